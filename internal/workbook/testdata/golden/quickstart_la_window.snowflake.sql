-- params: window_start timestamp, window_end timestamp
-- columns: "Day of Request Time" Date, "Success" Integer, "Failure" Integer, "Failure Rate" Number
SELECT
  CAST(CONVERT_TIMEZONE('UTC', 'America/Los_Angeles', t."REQUEST_TIME") AS DATE) AS "Day of Request Time",
  COUNT_IF((t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'SUCCESS')) AS "Success",
  COUNT_IF((t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'FAILURE')) AS "Failure",
  ((COUNT_IF((t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'FAILURE'))) / NULLIF(((COUNT_IF((t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'SUCCESS'))) + (COUNT_IF((t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'FAILURE')))), 0)) AS "Failure Rate"
FROM "AUDIT_LOGS" AS t
WHERE t."REQUEST_TIME" >= TO_TIMESTAMP_NTZ(?, 'YYYY-MM-DD HH24:MI:SS.FF6') AND t."REQUEST_TIME" < TO_TIMESTAMP_NTZ(?, 'YYYY-MM-DD HH24:MI:SS.FF6')
GROUP BY CAST(CONVERT_TIMEZONE('UTC', 'America/Los_Angeles', t."REQUEST_TIME") AS DATE)
ORDER BY 1 DESC NULLS LAST
