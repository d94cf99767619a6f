-- params: window_start timestamp, window_end timestamp
-- columns: "Day of Request Time" Date, "Success" Integer, "Failure" Integer, "Failure Rate" Number
SELECT
  CAST(timezone('America/Los_Angeles', timezone('UTC', t."REQUEST_TIME")) AS DATE) AS "Day of Request Time",
  count(*) FILTER (WHERE (t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'SUCCESS')) AS "Success",
  count(*) FILTER (WHERE (t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'FAILURE')) AS "Failure",
  ((count(*) FILTER (WHERE (t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'FAILURE'))) / NULLIF(((count(*) FILTER (WHERE (t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'SUCCESS'))) + (count(*) FILTER (WHERE (t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'FAILURE')))), 0)) AS "Failure Rate"
FROM "AUDIT_LOGS" AS t
WHERE t."REQUEST_TIME" >= CAST($1 AS TIMESTAMP) AND t."REQUEST_TIME" < CAST($2 AS TIMESTAMP)
GROUP BY CAST(timezone('America/Los_Angeles', timezone('UTC', t."REQUEST_TIME")) AS DATE)
ORDER BY 1 DESC NULLS LAST
