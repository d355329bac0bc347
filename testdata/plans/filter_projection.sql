-- Filter and projection over one table: expressions, aliases, literals,
-- a schema-qualified name, varchar passing through with its length.
CREATE TABLE orders (
    id          bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    status      varchar(20),
    amount      numeric(12,2),
    qty         integer,
    created     timestamptz
);

CREATE VIEW open_orders AS
SELECT id, status, amount * qty AS total, 'open' AS kind, qty + 1
FROM public.orders
WHERE status = 'open' AND amount > 10;

CREATE OR REPLACE VIEW reporting.big_orders (order_id, amt) AS
  SELECT o.id, o.amount FROM orders o WHERE o.amount >= 1000 OR o.qty > 100;
