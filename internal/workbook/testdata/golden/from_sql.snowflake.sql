-- params: 
-- columns: "User Email" Text, "Logins" Integer, "Last Login" Datetime
SELECT
  t."USER_EMAIL" AS "User Email",
  COUNT(*) AS "Logins",
  MAX(t."REQUEST_TIME") AS "Last Login"
FROM (
SELECT * FROM AUDIT_LOGS WHERE EVENT_TYPE = 'LOGIN' -- logins only
) AS t
GROUP BY t."USER_EMAIL"
ORDER BY 1 ASC NULLS LAST
