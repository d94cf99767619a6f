-- params: 
-- columns: "Week of TS" Date, "Month of D" Date, "Hour of TZ" Datetime, "Kind" Text, "Rows" Integer, "Ns" Integer, "Positive" Integer, "Distinct T" Integer, "Sum N" Integer, "Sum X If" Number, "Avg X" Number, "Avg N If" Number, "First" Datetime, "Last" Datetime, "Median X" Number, "Share" Number
SELECT
  DATEADD(day, -(DAYOFWEEKISO(CAST(CONVERT_TIMEZONE('UTC', 'America/New_York', t."TS") AS DATE)) % 7), CAST(CONVERT_TIMEZONE('UTC', 'America/New_York', t."TS") AS DATE)) AS "Week of TS",
  DATE_TRUNC('MONTH', t."D") AS "Month of D",
  DATEADD(second, DATEDIFF(second, CAST(CONVERT_TIMEZONE('America/New_York', t."TZ") AS TIMESTAMP_NTZ), CAST(CONVERT_TIMEZONE('UTC', t."TZ") AS TIMESTAMP_NTZ)), DATE_TRUNC('HOUR', CAST(CONVERT_TIMEZONE('America/New_York', t."TZ") AS TIMESTAMP_NTZ))) AS "Hour of TZ",
  CASE WHEN (t."N" > 5) THEN 'big' WHEN (t."N" > 0) THEN 'small' ELSE 'other' END AS "Kind",
  COUNT(*) AS "Rows",
  COUNT(t."N") AS "Ns",
  COUNT_IF((t."N" > 0) AND t."B") AS "Positive",
  COUNT(DISTINCT t."T") AS "Distinct T",
  SUM(t."N") AS "Sum N",
  SUM(CASE WHEN t."B" AND (t."N" <> 3) THEN t."X" END) AS "Sum X If",
  AVG(t."X") AS "Avg X",
  AVG(CASE WHEN (NOT t."B") THEN t."N" END) AS "Avg N If",
  MIN(t."TS") AS "First",
  CAST(CONVERT_TIMEZONE('UTC', MAX(t."TZ")) AS TIMESTAMP_NTZ) AS "Last",
  MEDIAN(t."X") AS "Median X",
  ((COUNT_IF((t."N" > 0) AND t."B")) / NULLIF((COUNT(*)), 0)) AS "Share"
FROM "FX" AS t
WHERE ((CASE WHEN (t."N" > 5) THEN 'big' WHEN (t."N" > 0) THEN 'small' ELSE 'other' END) IN ('big', 'small'))
GROUP BY DATEADD(day, -(DAYOFWEEKISO(CAST(CONVERT_TIMEZONE('UTC', 'America/New_York', t."TS") AS DATE)) % 7), CAST(CONVERT_TIMEZONE('UTC', 'America/New_York', t."TS") AS DATE)), DATE_TRUNC('MONTH', t."D"), DATEADD(second, DATEDIFF(second, CAST(CONVERT_TIMEZONE('America/New_York', t."TZ") AS TIMESTAMP_NTZ), CAST(CONVERT_TIMEZONE('UTC', t."TZ") AS TIMESTAMP_NTZ)), DATE_TRUNC('HOUR', CAST(CONVERT_TIMEZONE('America/New_York', t."TZ") AS TIMESTAMP_NTZ))), CASE WHEN (t."N" > 5) THEN 'big' WHEN (t."N" > 0) THEN 'small' ELSE 'other' END
HAVING ((COUNT(*)) > 1)
ORDER BY 5 DESC NULLS LAST
LIMIT 100
