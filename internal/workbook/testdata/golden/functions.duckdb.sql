-- params: today date, now timestamp
-- columns: "Arith" Number, "Text" Text, "If" Text, "Switch" Text, "Coalesce" Number, "Nulls" Logical, "In Between" Logical, "Contains" Logical, "Case" Text, "Len" Integer, "Slices" Text, "Trunc" Datetime, "Trunc Hour" Datetime, "Add" Datetime, "Add Hours" Datetime, "Diff" Integer, "Diff Hours" Integer, "Part" Integer, "Date" Date, "Date Text" Date, "Numbers" Number
SELECT
  (((-t."N") + (t."X" * 2)) - (t."N" / NULLIF(power(4, 2), 0))) AS "Arith",
  concat(t."S", ' it''s "q" \ -- /* ; ü ', CAST(t."N" AS VARCHAR), CAST(timezone('America/Los_Angeles', timezone('UTC', t."TS")) AS VARCHAR)) AS "Text",
  CASE WHEN (t."N" > 5) THEN 'big' WHEN (t."N" > 0) THEN 'small' ELSE 'other' END AS "If",
  CASE t."N" WHEN 10 THEN 'ten' WHEN 7 THEN 'seven' ELSE '?' END AS "Switch",
  coalesce(t."N", t."X", 0) AS "Coalesce",
  ((t."S" IS NULL) OR ((t."J" IS NOT NULL) AND (t."N" = CAST(NULL AS BIGINT)))) AS "Nulls",
  ((t."N" IN (1, 2)) OR (t."X" BETWEEN (-1) AND 1.5)) AS "In Between",
  ((contains(t."S", t."T") AND starts_with(t."S", 'a')) OR ends_with(t."S", 'z')) AS "Contains",
  upper(lower(trim(t."S"))) AS "Case",
  length(t."S") AS "Len",
  concat(left(t."S", 2), right(t."S", CAST(t."N" AS INTEGER)), replace(t."S", 'a', 'b'), split_part(t."S", ',', CAST((-1) AS INTEGER))) AS "Slices",
  timezone('UTC', timezone('America/Los_Angeles', date_trunc('day', timezone('America/Los_Angeles', timezone('UTC', t."TS"))))) AS "Trunc",
  (date_trunc('hour', timezone('America/Los_Angeles', t."TZ")) - (timezone('America/Los_Angeles', t."TZ") - timezone('UTC', t."TZ"))) AS "Trunc Hour",
  timezone('UTC', timezone('America/Los_Angeles', (timezone('America/Los_Angeles', timezone('UTC', t."TS")) + to_months(1)))) AS "Add",
  (t."TS" + to_hours(CAST(t."N" AS INTEGER))) AS "Add Hours",
  (date_diff('day', (t."D" - CAST(isodow(t."D") - 1 AS INTEGER)), (CAST($1 AS DATE) - CAST(isodow(CAST($1 AS DATE)) - 1 AS INTEGER))) // 7) AS "Diff",
  date_diff('hour', t."TS", CAST($2 AS TIMESTAMP)) AS "Diff Hours",
  isodow(timezone('America/Los_Angeles', timezone('UTC', t."TS"))) AS "Part",
  make_date(2027, 3, CAST((abs(t."N") + 1) AS BIGINT)) AS "Date",
  TRY_CAST('2027-03-14' AS DATE) AS "Date Text",
  ((((round(t."X", 1) + floor(t."X")) + ceil(t."X")) + abs(t."N")) + power(t."N", 2)) AS "Numbers"
FROM "FX" AS t
WHERE ((t."TS" >= timezone('UTC', timezone('America/Los_Angeles', CAST(make_date(2027, 1, 1) AS TIMESTAMP)))) AND (timezone('UTC', t."TZ") < CAST($2 AS TIMESTAMP)))
