-- Table and column aliases, self-joins.
CREATE TABLE employees (id integer PRIMARY KEY, manager_id integer, name text, salary numeric);

CREATE VIEW reports AS
SELECT e.name AS employee, m.name AS manager, e.salary - m.salary AS diff
FROM employees AS e JOIN employees AS m ON e.manager_id = m.id;

CREATE VIEW renamed AS
SELECT x.a, x.b, x.name FROM employees AS x (a, b) WHERE x.b IS NOT NULL;

CREATE VIEW skip_level AS
SELECT e.id, gm.name AS grand_manager
FROM employees e, employees m, employees gm
WHERE e.manager_id = m.id AND m.manager_id = gm.id;
