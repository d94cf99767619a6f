-- params: window_start timestamp, window_end timestamp
-- columns: "Request Time" Datetime, "Event Type" Text, "Event Status" Text, "Event Name" Text, "User Email" Text, "User Id" Text, "Request Id" Text, "Duration Ms" Integer, "Event Data" Other
SELECT
  t."REQUEST_TIME" AS "Request Time",
  t."EVENT_TYPE" AS "Event Type",
  t."EVENT_STATUS" AS "Event Status",
  t."EVENT_NAME" AS "Event Name",
  t."USER_EMAIL" AS "User Email",
  t."USER_ID" AS "User Id",
  t."REQUEST_ID" AS "Request Id",
  t."DURATION_MS" AS "Duration Ms",
  t."EVENT_DATA" AS "Event Data"
FROM "AUDIT_LOGS" AS t
WHERE t."REQUEST_TIME" >= CAST($1 AS TIMESTAMP) AND t."REQUEST_TIME" < CAST($2 AS TIMESTAMP)
  AND ((t."USER_EMAIL" IS NOT NULL) AND (NOT ends_with(t."USER_EMAIL", '@example.com')))
QUALIFY row_number() OVER (PARTITION BY t."REQUEST_ID" ORDER BY t."REQUEST_TIME", t."EVENT_TYPE", t."EVENT_STATUS", t."EVENT_NAME", t."USER_EMAIL", t."USER_ID", t."REQUEST_ID", t."DURATION_MS") = 1
