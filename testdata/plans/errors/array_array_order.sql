CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(12,2), note text, tags text[], f float8);

CREATE VIEW v AS
SELECT id, tags FROM orders ORDER BY tags, id LIMIT 3;
