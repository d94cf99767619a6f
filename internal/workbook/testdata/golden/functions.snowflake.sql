-- params: today date, now timestamp, now timestamp
-- columns: "Arith" Number, "Text" Text, "If" Text, "Switch" Text, "Coalesce" Number, "Nulls" Logical, "In Between" Logical, "Contains" Logical, "Case" Text, "Len" Integer, "Slices" Text, "Trunc" Datetime, "Trunc Hour" Datetime, "Add" Datetime, "Add Hours" Datetime, "Diff" Integer, "Diff Hours" Integer, "Part" Integer, "Date" Date, "Date Text" Date, "Numbers" Number
SELECT
  (((-t."N") + (t."X" * 2)) - (t."N" / NULLIF(POWER(4, 2), 0))) AS "Arith",
  CONCAT(COALESCE(t."S", ''), COALESCE(' it''s "q" \\ -- /* ; ü ', ''), COALESCE(TO_VARCHAR(t."N"), ''), COALESCE(TO_VARCHAR(CONVERT_TIMEZONE('UTC', 'America/Los_Angeles', t."TS")), '')) AS "Text",
  CASE WHEN (t."N" > 5) THEN 'big' WHEN (t."N" > 0) THEN 'small' ELSE 'other' END AS "If",
  CASE t."N" WHEN 10 THEN 'ten' WHEN 7 THEN 'seven' ELSE '?' END AS "Switch",
  COALESCE(t."N", t."X", 0) AS "Coalesce",
  ((t."S" IS NULL) OR ((t."J" IS NOT NULL) AND (t."N" = CAST(NULL AS NUMBER(38,0))))) AS "Nulls",
  ((t."N" IN (1, 2)) OR (t."X" BETWEEN (-1) AND 1.5)) AS "In Between",
  ((CONTAINS(t."S", t."T") AND STARTSWITH(t."S", 'a')) OR ENDSWITH(t."S", 'z')) AS "Contains",
  UPPER(LOWER(TRIM(t."S"))) AS "Case",
  LENGTH(t."S") AS "Len",
  CONCAT(COALESCE(LEFT(t."S", 2), ''), COALESCE(RIGHT(t."S", t."N"), ''), COALESCE(REPLACE(t."S", 'a', 'b'), ''), COALESCE(SPLIT_PART(t."S", ',', (-1)), '')) AS "Slices",
  CONVERT_TIMEZONE('America/Los_Angeles', 'UTC', DATE_TRUNC('DAY', CONVERT_TIMEZONE('UTC', 'America/Los_Angeles', t."TS"))) AS "Trunc",
  DATEADD(second, DATEDIFF(second, CAST(CONVERT_TIMEZONE('America/Los_Angeles', t."TZ") AS TIMESTAMP_NTZ), CAST(CONVERT_TIMEZONE('UTC', t."TZ") AS TIMESTAMP_NTZ)), DATE_TRUNC('HOUR', CAST(CONVERT_TIMEZONE('America/Los_Angeles', t."TZ") AS TIMESTAMP_NTZ))) AS "Trunc Hour",
  CONVERT_TIMEZONE('America/Los_Angeles', 'UTC', DATEADD(month, 1, CONVERT_TIMEZONE('UTC', 'America/Los_Angeles', t."TS"))) AS "Add",
  DATEADD(hour, t."N", t."TS") AS "Add Hours",
  CAST(DATEDIFF(day, DATEADD(day, -(DAYOFWEEKISO(t."D") - 1), t."D"), DATEADD(day, -(DAYOFWEEKISO(TO_DATE(?, 'YYYY-MM-DD')) - 1), TO_DATE(?, 'YYYY-MM-DD'))) / 7 AS INTEGER) AS "Diff",
  DATEDIFF(hour, t."TS", TO_TIMESTAMP_NTZ(?, 'YYYY-MM-DD HH24:MI:SS.FF6')) AS "Diff Hours",
  DAYOFWEEKISO(CONVERT_TIMEZONE('UTC', 'America/Los_Angeles', t."TS")) AS "Part",
  DATE_FROM_PARTS(2027, 3, (ABS(t."N") + 1)) AS "Date",
  TRY_TO_DATE('2027-03-14') AS "Date Text",
  ((((ROUND(t."X", 1) + FLOOR(t."X")) + CEIL(t."X")) + ABS(t."N")) + POWER(t."N", 2)) AS "Numbers"
FROM "FX" AS t
WHERE ((t."TS" >= CONVERT_TIMEZONE('America/Los_Angeles', 'UTC', CAST(DATE_FROM_PARTS(2027, 1, 1) AS TIMESTAMP_NTZ))) AND (CAST(CONVERT_TIMEZONE('UTC', t."TZ") AS TIMESTAMP_NTZ) < TO_TIMESTAMP_NTZ(?, 'YYYY-MM-DD HH24:MI:SS.FF6')))
