CREATE TABLE customers (id integer PRIMARY KEY, n integer);
CREATE TABLE orders (id bigint PRIMARY KEY, cust integer);

-- A function in FROM on the nullable side of an outer join.
CREATE VIEW v AS
SELECT o.id, g FROM orders o LEFT JOIN (customers c CROSS JOIN generate_series(1, c.n) g) ON c.id = o.cust;
