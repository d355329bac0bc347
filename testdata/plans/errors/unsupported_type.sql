CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note time);
CREATE TABLE customers (id integer PRIMARY KEY, name text);

CREATE VIEW v AS SELECT id, note FROM orders;
