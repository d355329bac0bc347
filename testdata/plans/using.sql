-- JOIN ... USING and NATURAL JOIN: the USING column appears once in *,
-- first; qualified references still reach both copies.
CREATE TABLE orders (order_id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2));
CREATE TABLE shipments (order_id bigint, shipped date, carrier text);
CREATE TABLE payments (order_id integer, paid numeric(12,2));

CREATE VIEW shipped AS
SELECT * FROM orders JOIN shipments USING (order_id);

CREATE VIEW shipped_paid AS
SELECT order_id, orders.order_id AS o_id, shipments.carrier, paid
FROM orders JOIN shipments USING (order_id) JOIN payments USING (order_id);

CREATE VIEW natural_shipped AS
SELECT * FROM shipments NATURAL JOIN orders;
