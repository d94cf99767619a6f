-- Stand-in for config/demo/audit_logs.sql: config only checks that init files exist.
CREATE TABLE AUDIT_LOGS AS SELECT TIMESTAMP '2026-01-01 00:00:00' AS REQUEST_TIME;
