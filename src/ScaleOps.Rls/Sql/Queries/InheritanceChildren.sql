-- Every table that inherits from one declared table (CREATE TABLE ... INHERITS, at any depth), partitions excluded:
-- a statement naming the child is checked against the child's own row security, which the policy manager does not
-- give it. $1 the declared table (regclass text).
WITH RECURSIVE children(relid) AS (
    SELECT i.inhrelid FROM pg_catalog.pg_inherits i WHERE i.inhparent = $1::regclass
    UNION
    SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN children ch ON i.inhparent = ch.relid)
SELECT c.oid::regclass::text
FROM children ch
JOIN pg_catalog.pg_class c ON c.oid = ch.relid
WHERE NOT c.relispartition
ORDER BY 1
