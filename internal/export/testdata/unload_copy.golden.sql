COPY INTO '<location>'
FROM (
SELECT
  u."Event Id" AS "Event Id",
  CASE WHEN u."User" IS NULL THEN NULL WHEN u."User" = '' OR CONTAINS(u."User", ',') OR CONTAINS(u."User", '"') OR CONTAINS(u."User", '#') OR CONTAINS(u."User", CHR(10)) OR CONTAINS(u."User", CHR(13)) THEN '"' || REPLACE(u."User", '"', '""') || '"' ELSE u."User" END AS "User",
  CASE WHEN u."Request Time" IS NOT NULL THEN TO_VARCHAR(CAST(u."Request Time" AS DATE), 'YYYY-MM-DD') || 'T' || LPAD(HOUR(u."Request Time")::VARCHAR, 2, '0') || ':' || LPAD(MINUTE(u."Request Time")::VARCHAR, 2, '0') || ':' || LPAD(SECOND(u."Request Time")::VARCHAR, 2, '0') || 'Z' END AS "Request Time",
  TO_VARCHAR(u."Day", 'YYYY-MM-DD') AS "Day",
  CASE WHEN u."Event Type" IS NULL THEN NULL WHEN u."Event Type" = '' OR CONTAINS(u."Event Type", ',') OR CONTAINS(u."Event Type", '"') OR CONTAINS(u."Event Type", '#') OR CONTAINS(u."Event Type", CHR(10)) OR CONTAINS(u."Event Type", CHR(13)) THEN '"' || REPLACE(u."Event Type", '"', '""') || '"' ELSE u."Event Type" END AS "Event Type",
  u."Duration Ms" AS "Duration Ms",
  CASE WHEN u."Ok" THEN 'true' WHEN NOT u."Ok" THEN 'false' END AS "Ok"
FROM (
SELECT
  t."EVENT_ID" AS "Event Id",
  t."USER_NAME" AS "User",
  t."REQUEST_TIME" AS "Request Time",
  CAST((t."REQUEST_TIME") AS DATE) AS "Day",
  t."EVENT_TYPE" AS "Event Type",
  t."DURATION_MS" AS "Duration Ms",
  t."OK" AS "Ok"
FROM "EVENTS" AS t
WHERE t."REQUEST_TIME" >= TO_TIMESTAMP_NTZ('<bound>', 'YYYY-MM-DD HH24:MI:SS.FF6') AND t."REQUEST_TIME" < TO_TIMESTAMP_NTZ('<bound>', 'YYYY-MM-DD HH24:MI:SS.FF6')
ORDER BY 1 ASC NULLS LAST
) AS u
ORDER BY u."Event Id" ASC NULLS LAST
)
STORAGE_INTEGRATION = AUDIT_S3
FILE_FORMAT = (TYPE = CSV FIELD_DELIMITER = ',' RECORD_DELIMITER = '\n' FIELD_OPTIONALLY_ENCLOSED_BY = NONE ESCAPE_UNENCLOSED_FIELD = NONE ESCAPE = NONE NULL_IF = ('') EMPTY_FIELD_AS_NULL = FALSE DATE_FORMAT = 'YYYY-MM-DD' TIME_FORMAT = 'HH24:MI:SS' TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS"Z"' BINARY_FORMAT = HEX COMPRESSION = NONE)
HEADER = TRUE SINGLE = <single> MAX_FILE_SIZE = <size> OVERWRITE = FALSE DETAILED_OUTPUT = TRUE
