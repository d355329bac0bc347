-- views/sales.sql: the demo's views
CREATE VIEW sales.revenue_by_country AS
  SELECT c.country, count(*) AS orders, sum(o.qty * p.price) AS revenue
  FROM orders o
  JOIN customers c ON c.id = o.customer_id
  JOIN products p ON p.id = o.product_id
  WHERE o.status <> 'cancelled'
  GROUP BY c.country;

CREATE VIEW sales.product_stats AS
  SELECT p.name AS product, count(*) AS orders, sum(o.qty) AS units,
         min(o.qty) AS min_qty, max(o.qty) AS max_qty, avg(o.qty) AS avg_qty
  FROM orders o JOIN products p ON p.id = o.product_id
  GROUP BY p.name;

CREATE VIEW sales.big_orders AS
  SELECT o.id, c.name AS customer, o.qty, o.status
  FROM orders o JOIN customers c ON c.id = o.customer_id
  WHERE o.qty >= 8 AND o.status IN ('paid', 'shipped');

CREATE MATERIALIZED VIEW sales.order_status AS
  SELECT status, count(*) FROM orders GROUP BY status;
