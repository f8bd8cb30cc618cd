-- pgbench -S with the masked column added. bench/policy redacts
-- pgbench_accounts.filler, so the policy-on gateway redacts it in every row.
\set aid random(1, 100000 * :scale)
SELECT abalance, filler FROM pgbench_accounts WHERE aid = :aid;
