-- params: 
-- columns: "Day of Request Time" Date, "Success" Integer, "Failure" Integer
SELECT
  CAST(t."REQUEST_TIME" AS DATE) AS "Day of Request Time",
  COUNT_IF((t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'SUCCESS')) AS "Success",
  COUNT_IF((t."EVENT_TYPE" = 'LOGIN') AND (t."EVENT_STATUS" = 'FAILURE')) AS "Failure"
FROM "AUDIT_LOGS" AS t
GROUP BY CAST(t."REQUEST_TIME" AS DATE)
ORDER BY 1 ASC NULLS LAST
