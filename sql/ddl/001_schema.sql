-- The warehouse schema. Redshift SQL is the source of truth; PostgreSQL gets it through
-- taxilab.warehouse.dialect (sqlglot), never through a second copy.
create schema if not exists taxi;
