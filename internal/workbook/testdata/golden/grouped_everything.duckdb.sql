-- params: 
-- columns: "Week of TS" Date, "Month of D" Date, "Hour of TZ" Datetime, "Kind" Text, "Rows" Integer, "Ns" Integer, "Positive" Integer, "Distinct T" Integer, "Sum N" Integer, "Sum X If" Number, "Avg X" Number, "Avg N If" Number, "First" Datetime, "Last" Datetime, "Median X" Number, "Share" Number
SELECT
  (CAST(timezone('America/New_York', timezone('UTC', t."TS")) AS DATE) - CAST(isodow(CAST(timezone('America/New_York', timezone('UTC', t."TS")) AS DATE)) % 7 AS INTEGER)) AS "Week of TS",
  CAST(date_trunc('month', t."D") AS DATE) AS "Month of D",
  (date_trunc('hour', timezone('America/New_York', t."TZ")) - (timezone('America/New_York', t."TZ") - timezone('UTC', t."TZ"))) AS "Hour of TZ",
  CASE WHEN (t."N" > 5) THEN 'big' WHEN (t."N" > 0) THEN 'small' ELSE 'other' END AS "Kind",
  count(*) AS "Rows",
  count(t."N") AS "Ns",
  count(*) FILTER (WHERE (t."N" > 0) AND t."B") AS "Positive",
  count(DISTINCT t."T") AS "Distinct T",
  CAST(sum(t."N") AS BIGINT) AS "Sum N",
  sum(t."X") FILTER (WHERE t."B" AND (t."N" <> 3)) AS "Sum X If",
  avg(t."X") AS "Avg X",
  avg(t."N") FILTER (WHERE (NOT t."B")) AS "Avg N If",
  min(t."TS") AS "First",
  timezone('UTC', max(t."TZ")) AS "Last",
  median(t."X") AS "Median X",
  ((count(*) FILTER (WHERE (t."N" > 0) AND t."B")) / NULLIF((count(*)), 0)) AS "Share"
FROM "FX" AS t
WHERE ((CASE WHEN (t."N" > 5) THEN 'big' WHEN (t."N" > 0) THEN 'small' ELSE 'other' END) IN ('big', 'small'))
GROUP BY (CAST(timezone('America/New_York', timezone('UTC', t."TS")) AS DATE) - CAST(isodow(CAST(timezone('America/New_York', timezone('UTC', t."TS")) AS DATE)) % 7 AS INTEGER)), CAST(date_trunc('month', t."D") AS DATE), (date_trunc('hour', timezone('America/New_York', t."TZ")) - (timezone('America/New_York', t."TZ") - timezone('UTC', t."TZ"))), CASE WHEN (t."N" > 5) THEN 'big' WHEN (t."N" > 0) THEN 'small' ELSE 'other' END
HAVING ((count(*)) > 1)
ORDER BY 5 DESC NULLS LAST
LIMIT 100
