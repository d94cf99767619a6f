-- Snowflake side of exportd: the storage integration that unloads into the
-- archive bucket, and the role exportd connects with. Run as ACCOUNTADMIN
-- (integration) and SECURITYADMIN (role, user, grants). Names match
-- deploy/config/exportd.yaml.

-- 1. The storage integration: Snowflake assumes this role (see
--    deploy/aws/snowflake-unload-policy.json) to write to the location.
--    With unload: warehouse, Snowflake writes only staging files under the
--    destination's _claims/ (exportd reads them back, checks the rows and
--    promotes them itself), so the integration allows nothing else.
CREATE STORAGE INTEGRATION IF NOT EXISTS EXPORTD_ARCHIVE
  TYPE = EXTERNAL_STAGE
  STORAGE_PROVIDER = 'S3'
  ENABLED = TRUE
  STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/snowflake-exportd-unload'
  STORAGE_ALLOWED_LOCATIONS = ('s3://acme-audit-archive/sigma/audit/_claims/');

-- Its STORAGE_AWS_IAM_USER_ARN and STORAGE_AWS_EXTERNAL_ID go into the
-- role's trust policy (deploy/aws/snowflake-trust-policy.json).
DESC INTEGRATION EXPORTD_ARCHIVE;

-- 2. exportd's role: read the audit log, run on its warehouse, unload
--    through the integration. Nothing else.
CREATE ROLE IF NOT EXISTS EXPORTD;
GRANT USAGE ON WAREHOUSE EXPORT_WH TO ROLE EXPORTD;
GRANT USAGE ON DATABASE SIGMA_AUDIT TO ROLE EXPORTD;
GRANT USAGE ON SCHEMA SIGMA_AUDIT.AUDIT TO ROLE EXPORTD;
GRANT SELECT ON TABLE SIGMA_AUDIT.AUDIT.AUDIT_LOGS TO ROLE EXPORTD;
GRANT USAGE ON INTEGRATION EXPORTD_ARCHIVE TO ROLE EXPORTD;

-- 3. exportd's user, with key-pair authentication (the private key is the
--    secret file the config names: private_key: file:...).
CREATE USER IF NOT EXISTS EXPORTD
  TYPE = SERVICE
  DEFAULT_ROLE = EXPORTD
  DEFAULT_WAREHOUSE = EXPORT_WH
  RSA_PUBLIC_KEY = 'REPLACE-WITH-THE-PUBLIC-KEY-BODY';
GRANT ROLE EXPORTD TO USER EXPORTD;
