
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, country text NOT NULL);
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers,
  product_id int NOT NULL REFERENCES products,
  qty int NOT NULL,
  status text NOT NULL DEFAULT 'new',
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers SELECT g, 'customer ' || g, (ARRAY['DE','FR','US','JP','BR'])[1 + g % 5] FROM generate_series(1, 50) g;
INSERT INTO products SELECT g, 'product ' || g, (g * 3.25)::numeric(10,2) FROM generate_series(1, 20) g;
INSERT INTO orders (customer_id, product_id, qty, status)
  SELECT 1 + g % 50, 1 + g % 20, 1 + g % 9, (ARRAY['new','paid','shipped'])[1 + g % 3] FROM generate_series(1, 500) g;
