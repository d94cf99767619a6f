-- Demo data: a Sigma-style audit log (the AUDIT_LOGS table of the "Sigma
-- Audit Logs" connection), for running exportd without a warehouse.
--
-- Inputs, as DuckDB variables set by the caller before this file runs:
--   demo_end   an RFC 3339 instant ('2026-11-25T06:00:00Z'); the log covers
--              [demo_end - 90 days, demo_end). Nothing here reads the clock.
--   demo_seed  any text; the same seed and end give the same table, row for row.
--
-- Every pseudo-random choice is hash(key, salt, seed) of a row's own key, not
-- random(): the result does not depend on threads or evaluation order.
--
-- Shape (about 200k rows for 90 days):
--   * ~120 accounts (Admin, Creator, Explorer, Viewer, one API service account);
--   * browser sessions start more often in (US) working hours and on weekdays;
--     each opens with LOGIN (sometimes after failed attempts), continues with
--     actions that depend on the role, and sometimes ends with LOGOUT;
--   * hourly PUBLIC_API calls by the service account, daily scheduled exports;
--   * a few stray failed logins every day (typos, unknown accounts);
--   * one credential-stuffing night, 68 days after the first day: by far the
--     day with the most failed logins;
--   * at-least-once delivery: about 0.2% of events arrive twice, as Sigma's
--     audit log can deliver them (same REQUEST_ID, the row identical, so in
--     the same window); `dedupe_by: [Request Id]` keeps one of each.
-- Columns an event has no detail for are NULL (no object for LOGIN, no
-- session for API calls, no reason code on success).

CREATE OR REPLACE TEMP TABLE demo_params AS
SELECT
    end_ts,
    end_ts - INTERVAL 90 DAY AS start_ts,
    date_trunc('day', end_ts - INTERVAL 90 DAY) + INTERVAL 68 DAY AS spike_day
FROM (
    SELECT CASE
        WHEN getvariable('demo_end') IS NULL THEN error('audit_logs.sql: variable demo_end is not set')
        WHEN getvariable('demo_seed') IS NULL THEN error('audit_logs.sql: variable demo_seed is not set')
        -- Through TIMESTAMPTZ so that an offset ('+02:00') is honoured; a plain
        -- ::TIMESTAMP cast would drop it.
        ELSE (getvariable('demo_end')::VARCHAR)::TIMESTAMPTZ AT TIME ZONE 'UTC'
    END AS end_ts
);

-- Uniform in [0, 1), from 53 bits of a hash of (key, salt, seed).
CREATE OR REPLACE TEMP MACRO demo_rnd(k, salt) AS
    (hash(k, salt, getvariable('demo_seed')::VARCHAR) >> 11)::DOUBLE / 9007199254740992.0;
-- Pick from a list with a uniform draw.
CREATE OR REPLACE TEMP MACRO demo_pick(l, u) AS l[1 + floor(u * len(l))::INTEGER];
-- A version-4-looking UUID derived from text.
CREATE OR REPLACE TEMP MACRO demo_uuid(s) AS
    regexp_replace(md5(s), '^(.{8})(.{4}).(.{3}).(.{3})(.{12})$', '\1-\2-4\3-a\4-\5');

------------------------------------------------------------------------------
-- Accounts: 119 people and one API service account (user_no 119).
------------------------------------------------------------------------------
CREATE OR REPLACE TEMP TABLE demo_users AS
WITH names AS (
    SELECT
        ['Olivia','Liam','Emma','Noah','Ava','Elijah','Sophia','James','Mia','Lucas',
         'Amelia','Mateo','Harper','Ethan','Aisha','Hiroshi','Priya','Diego','Chloe','Omar',
         'Fatima','Wei','Ingrid','Kwame','Lena','Rafael','Yuki','Sanjay','Nora','Tomas',
         'Zoe','Marcus','Leila','Andrei','Grace','Mohammed','Elena','Kenji','Isabel','Samuel'] AS firsts,
        ['Johnson','Nguyen','Garcia','Smith','Patel','Kim','Martinez','Brown','Okafor','Chen',
         'Rossi','Muller','Silva','Kowalski','Andersson','Tanaka','Haddad','Dubois','Ivanova','Lopez',
         'Walker','Singh','Moreau','Jensen','Costa','Novak','Yamamoto','Schmidt','Murphy','Hughes',
         'Baker','Ortiz','Cohen','Larsen','Fischer','Reyes','Bianchi','Sato','Khan','Wright',
         'Young','Lindqvist','Mensah','Park','Romero'] AS lasts
), people AS (
    SELECT
        u.range AS user_no,
        -- (u mod 40, (u div 40 + u) mod 45) never repeats for u < 120.
        firsts[1 + u.range % 40] AS first_name,
        lasts[1 + (u.range // 40 + u.range) % 45] AS last_name
    FROM range(119) u, names
)
SELECT
    user_no,
    'u' || left(md5('sigma-member-' || user_no), 19) AS user_id,
    lower(first_name || '.' || last_name) || '@example.com' AS user_email,
    CASE
        WHEN user_no < 5 THEN 'Admin'
        WHEN user_no < 45 THEN 'Creator'
        WHEN user_no < 85 THEN 'Explorer'
        ELSE 'Viewer'
    END AS user_role,
    -- Most people sit behind the office NAT; the others work from home.
    CASE WHEN demo_rnd(user_no, 'remote') < 0.7
        THEN '203.0.113.' || (10 + user_no % 4)
        ELSE '198.51.100.' || (1 + floor(demo_rnd(user_no, 'home_ip') * 250)::INTEGER)
    END AS home_ip,
    demo_pick([
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'
    ], demo_rnd(user_no, 'agent')) AS user_agent,
    -- How much this person uses Sigma, relative to the others.
    (0.25 + 1.75 * demo_rnd(user_no, 'activity')) *
        CASE WHEN user_no < 5 THEN 1.2 WHEN user_no < 45 THEN 1.4 WHEN user_no < 85 THEN 1.0 ELSE 0.6 END AS weight
FROM people
UNION ALL
SELECT 119, 'u' || left(md5('sigma-member-119'), 19), 'svc-etl@example.com', 'Admin',
       '192.0.2.10', 'python-requests/2.32.3', 0.0;

-- Cumulative weights, to pick a person for a session with one uniform draw.
CREATE OR REPLACE TEMP TABLE demo_people AS
SELECT *,
    coalesce(sum(weight) OVER (ORDER BY user_no ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) / sum(weight) OVER () AS cum_lo,
    sum(weight) OVER (ORDER BY user_no) / sum(weight) OVER () AS cum_hi
FROM demo_users
WHERE weight > 0;

------------------------------------------------------------------------------
-- Objects that events refer to.
------------------------------------------------------------------------------
CREATE OR REPLACE TEMP TABLE demo_objects AS
WITH lists AS (
    SELECT
        ['Daily Login Activity','Revenue Overview','Sales Pipeline','Marketing Funnel','Customer Churn',
         'Executive KPIs','Product Usage','Support Tickets','Finance Close','Inventory Levels',
         'Regional Performance','Quarterly Forecast','Hiring Plan','Cloud Spend','Web Traffic',
         'Campaign ROI','Partner Portal','Order Fulfillment','Contract Renewals','NPS Survey',
         'Board Deck Metrics','Warehouse Costs','Data Quality Checks','Ad Spend by Channel','Cohort Retention',
         'Subscription Revenue','Deal Desk','Usage Billing','Security Audit','Onboarding Funnel'] AS workbooks,
        ['Orders','Customers','Opportunities','Web Sessions','Invoices','Tickets','Products','Employees'] AS datasets,
        ['Snowflake Production','Snowflake Analytics Sandbox','Sigma Audit Logs'] AS connections,
        ['Finance','Sales Ops','Marketing','Data Team','Executives','Customer Success','Product','All Employees'] AS teams
)
SELECT 'workbook' AS kind, i.range AS idx, demo_uuid('workbook-' || i.range) AS object_id,
       workbooks[1 + i.range % 30] || CASE WHEN i.range >= 30 THEN ' (' || CASE WHEN i.range >= 60 THEN 'draft' ELSE 'copy' END || ')' ELSE '' END AS object_name
FROM lists, range(80) i
UNION ALL
SELECT 'dataset', i.range, demo_uuid('dataset-' || i.range), datasets[1 + i.range] FROM lists, range(8) i
UNION ALL
SELECT 'connection', i.range, demo_uuid('connection-' || i.range), connections[1 + i.range] FROM lists, range(3) i
UNION ALL
SELECT 'team', i.range, demo_uuid('team-' || i.range), teams[1 + i.range] FROM lists, range(8) i
UNION ALL
SELECT 'api_token', 0, demo_uuid('api-token-0'), 'etl-service client credentials';

-- Which event an action is, by role: cumulative probability ranges.
CREATE OR REPLACE TEMP TABLE demo_event_mix AS
SELECT role, category, event_type, object_kind,
    coalesce(sum(p) OVER (PARTITION BY role ORDER BY ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) / sum(p) OVER (PARTITION BY role) AS lo,
    sum(p) OVER (PARTITION BY role ORDER BY ord) / sum(p) OVER (PARTITION BY role) AS hi
FROM (VALUES
    ('Viewer',   1, 'OBJECT_INTERACTION', 'OPEN_WORKBOOK',      'workbook',   30),
    ('Viewer',   2, 'QUERY_EXECUTIONS',   'RUN_QUERY',          'workbook',   55),
    ('Viewer',   3, 'EXPORTS',            'EXPORT',             'workbook',    8),
    ('Viewer',   4, 'OBJECT_INTERACTION', 'CREATE_BOOKMARK',    'workbook',    4),
    ('Viewer',   5, 'OBJECT_INTERACTION', 'FAVORITE_DOCUMENT',  'workbook',    3),
    ('Explorer', 1, 'OBJECT_INTERACTION', 'OPEN_WORKBOOK',      'workbook',   20),
    ('Explorer', 2, 'QUERY_EXECUTIONS',   'RUN_QUERY',          'workbook',   50),
    ('Explorer', 3, 'EXPORTS',            'EXPORT',             'workbook',    8),
    ('Explorer', 4, 'OBJECT_INTERACTION', 'CREATE_BOOKMARK',    'workbook',    5),
    ('Explorer', 5, 'OBJECT_INTERACTION', 'CREATE_EXPLORATION', 'dataset',    10),
    ('Explorer', 6, 'CONNECTION',         'BROWSE_CONNECTION',  'connection',  5),
    ('Explorer', 7, 'QUERY_EXECUTIONS',   'CANCEL_QUERY',       'workbook',    2),
    ('Creator',  1, 'OBJECT_INTERACTION', 'OPEN_WORKBOOK',      'workbook',   12),
    ('Creator',  2, 'QUERY_EXECUTIONS',   'RUN_QUERY',          'workbook',   43),
    ('Creator',  3, 'OBJECT_INTERACTION', 'SAVE_WORKBOOK',      'workbook',   12),
    ('Creator',  4, 'OBJECT_INTERACTION', 'CREATE_WORKBOOK',    'workbook',  1.5),
    ('Creator',  5, 'OBJECT_INTERACTION', 'SHARE_WORKBOOK',     'workbook',    3),
    ('Creator',  6, 'OBJECT_INTERACTION', 'CREATE_DATASET',     'dataset',   0.7),
    ('Creator',  7, 'EXPORTS',            'EXPORT',             'workbook',    6),
    ('Creator',  8, 'EXPORTS',            'SCHEDULE_EXPORT',    'workbook',    2),
    ('Creator',  9, 'CONNECTION',         'BROWSE_CONNECTION',  'connection',  8),
    ('Creator', 10, 'OBJECT_INTERACTION', 'CREATE_EXPLORATION', 'dataset',     4),
    ('Creator', 11, 'OBJECT_INTERACTION', 'DELETE_WORKBOOK',    'workbook',  0.5),
    ('Creator', 12, 'QUERY_EXECUTIONS',   'CANCEL_QUERY',       'workbook',    3),
    ('Admin',    1, 'OBJECT_INTERACTION', 'OPEN_WORKBOOK',      'workbook',   10),
    ('Admin',    2, 'QUERY_EXECUTIONS',   'RUN_QUERY',          'workbook',   30),
    ('Admin',    3, 'OBJECT_INTERACTION', 'SAVE_WORKBOOK',      'workbook',    5),
    ('Admin',    4, 'USER_ACCOUNT',       'SEND_INVITE',        'user',        1),
    ('Admin',    5, 'USER_ACCOUNT',       'UPDATE_USER_ROLE',   'user',      0.8),
    ('Admin',    6, 'USER_ACCOUNT',       'DEACTIVATE_USER',    'user',      0.3),
    ('Admin',    7, 'USER_ACCOUNT',       'RESET_PASSWORD',     'user',      0.6),
    ('Admin',    8, 'TEAMS',              'CREATE_TEAM',        'team',      0.2),
    ('Admin',    9, 'TEAMS',              'ADD_TEAM_MEMBER',    'team',      1.5),
    ('Admin',   10, 'TEAMS',              'REMOVE_TEAM_MEMBER', 'team',      0.5),
    ('Admin',   11, 'CONNECTION',         'CREATE_CONNECTION',  'connection',0.2),
    ('Admin',   12, 'CONNECTION',         'UPDATE_CONNECTION',  'connection',  1),
    ('Admin',   13, 'CONNECTION',         'TEST_CONNECTION',    'connection',  6),
    ('Admin',   14, 'CONNECTION',         'BROWSE_CONNECTION',  'connection',  6),
    ('Admin',   15, 'PUBLIC_API',         'CREATE_API_TOKEN',   'api_token', 0.2),
    ('Admin',   16, 'PUBLIC_API',         'REVOKE_API_TOKEN',   'api_token', 0.2),
    ('Admin',   17, 'EXPORTS',            'EXPORT',             'workbook',    5),
    ('Admin',   18, 'EXPORTS',            'SCHEDULE_EXPORT',    'workbook',    2),
    ('Admin',   19, 'OBJECT_INTERACTION', 'SHARE_WORKBOOK',     'workbook',    2),
    ('Admin',   20, 'OBJECT_INTERACTION', 'CREATE_EXPLORATION', 'dataset',     9)
) AS m(role, ord, category, event_type, object_kind, p);

------------------------------------------------------------------------------
-- Sessions: candidate start times spread evenly over the 90 days, kept with
-- a probability that follows the hour of day (UTC; the company is mostly in
-- the Americas), the day of week and a slow growth.
------------------------------------------------------------------------------
CREATE OR REPLACE TEMP TABLE demo_sessions AS
WITH candidates AS (
    SELECT
        c.range AS cand,
        start_ts + to_microseconds(floor(demo_rnd(c.range, 'start') * 7776000000000)::BIGINT) AS started,
        demo_rnd(c.range, 'start') AS progress
    FROM range(43000) c, demo_params
), kept AS (
    SELECT *
    FROM candidates
    WHERE demo_rnd(cand, 'keep') <
        [0.35, 0.25, 0.15, 0.08, 0.05, 0.05, 0.06, 0.08, 0.15, 0.25, 0.35, 0.45,
         0.60, 0.85, 1.00, 1.00, 0.95, 0.90, 0.95, 1.00, 0.95, 0.80, 0.60, 0.45][1 + hour(started)]
        * [1.0, 1.0, 1.0, 1.0, 1.0, 0.20, 0.15][isodow(started)]
        * (0.9 + 0.1 * progress)
)
SELECT
    k.cand,
    k.started,
    p.user_no, p.user_id, p.user_email, p.user_role, p.user_agent,
    CASE WHEN demo_rnd(k.cand, 'roaming') < 0.15
        THEN '192.0.2.' || (20 + floor(demo_rnd(k.cand, 'roaming_ip') * 200)::INTEGER)
        ELSE p.home_ip END AS ip_address,
    demo_uuid('session-' || getvariable('demo_seed')::VARCHAR || '-' || k.cand) AS session_id,
    -- Failed attempts before getting in; 5 means locked out for good.
    CASE
        WHEN demo_rnd(k.cand, 'fails') < 0.003 THEN 5
        WHEN demo_rnd(k.cand, 'fails') < 0.015 THEN 2
        WHEN demo_rnd(k.cand, 'fails') < 0.065 THEN 1
        ELSE 0
    END AS failed_attempts,
    CASE p.user_role
        WHEN 'Viewer'   THEN 2 + floor(demo_rnd(k.cand, 'actions') * 7)
        WHEN 'Explorer' THEN 3 + floor(demo_rnd(k.cand, 'actions') * 12)
        WHEN 'Creator'  THEN 4 + floor(demo_rnd(k.cand, 'actions') * 21)
        ELSE                 3 + floor(demo_rnd(k.cand, 'actions') * 16)
    END::INTEGER AS actions,
    -- Seconds between two actions of this session, on average.
    15 + demo_rnd(k.cand, 'pace') * 165 AS pace,
    demo_rnd(k.cand, 'logout') < 0.45 AS logs_out
FROM kept k
JOIN demo_people p ON demo_rnd(k.cand, 'who') >= p.cum_lo AND demo_rnd(k.cand, 'who') < p.cum_hi;

------------------------------------------------------------------------------
-- Events, stream by stream; the final table filters them to the window.
------------------------------------------------------------------------------
CREATE OR REPLACE TEMP TABLE demo_events (
    request_time TIMESTAMP, event_category VARCHAR, event_type VARCHAR, event_status VARCHAR,
    event_status_reason_code VARCHAR, user_id VARCHAR, user_email VARCHAR, user_role VARCHAR,
    object_id VARCHAR, object_name VARCHAR, ip_address VARCHAR, user_agent VARCHAR,
    request_key VARCHAR, session_id VARCHAR
);

-- Failed attempts before a session (20 to 80 seconds apart).
INSERT INTO demo_events
SELECT
    s.started - to_seconds((s.failed_attempts - a.range) * (20 + floor(demo_rnd(s.cand * 8 + a.range, 'retry') * 60))::BIGINT),
    'ACCESS_SIGMA', 'LOGIN', 'FAILURE',
    CASE
        WHEN s.failed_attempts = 5 AND a.range = 4 THEN 'ACCOUNT_LOCKED'
        WHEN demo_rnd(s.cand * 8 + a.range, 'why') < 0.7 THEN 'INVALID_PASSWORD'
        ELSE 'MFA_FAILED'
    END,
    s.user_id, s.user_email, s.user_role, NULL, NULL, s.ip_address, s.user_agent,
    'attempt-' || s.cand || '-' || a.range, NULL
FROM demo_sessions s, range(s.failed_attempts) a
WHERE s.failed_attempts > 0;

-- Successful logins.
INSERT INTO demo_events
SELECT s.started, 'ACCESS_SIGMA', 'LOGIN', 'SUCCESS', NULL,
       s.user_id, s.user_email, s.user_role, NULL, NULL, s.ip_address, s.user_agent,
       'login-' || s.cand, s.session_id
FROM demo_sessions s
WHERE s.failed_attempts < 5;

-- Actions. The workbook in use changes every few actions; popular objects
-- come up more often (the square skews the draw towards low indices).
INSERT INTO demo_events
WITH acts AS (
    SELECT s.*, a.range AS step,
        s.started + to_microseconds(floor(((a.range + 1) * s.pace + demo_rnd(s.cand * 64 + a.range, 'jitter') * s.pace) * 1000000)::BIGINT) AS at,
        demo_rnd(s.cand * 64 + a.range, 'kind') AS kind_draw,
        demo_rnd(s.cand * 64 + a.range // 4, 'focus') AS focus_draw,
        demo_rnd(s.cand * 64 + a.range, 'outcome') AS outcome_draw,
        demo_rnd(s.cand * 64 + a.range, 'reason') AS reason_draw,
        demo_rnd(s.cand * 64 + a.range, 'target') AS target_draw
    FROM demo_sessions s, range(s.actions) a
    WHERE s.failed_attempts < 5
), typed AS (
    SELECT a.*, m.category, m.event_type, m.object_kind,
        CASE m.event_type
            WHEN 'RUN_QUERY' THEN 0.025
            WHEN 'EXPORT' THEN 0.03
            WHEN 'TEST_CONNECTION' THEN 0.08
            WHEN 'SEND_INVITE' THEN 0.01
            ELSE 0.005
        END AS failure_rate
    FROM acts a
    JOIN demo_event_mix m ON m.role = a.user_role AND a.kind_draw >= m.lo AND a.kind_draw < m.hi
)
SELECT
    t.at, t.category, t.event_type,
    CASE WHEN t.outcome_draw < t.failure_rate THEN 'FAILURE' ELSE 'SUCCESS' END,
    CASE WHEN t.outcome_draw < t.failure_rate THEN
        CASE t.event_type
            WHEN 'RUN_QUERY' THEN demo_pick(['QUERY_TIMEOUT', 'QUERY_TIMEOUT', 'WAREHOUSE_ERROR', 'PERMISSION_DENIED'], t.reason_draw)
            WHEN 'EXPORT' THEN demo_pick(['EXPORT_SIZE_LIMIT_EXCEEDED', 'DESTINATION_UNREACHABLE'], t.reason_draw)
            WHEN 'TEST_CONNECTION' THEN demo_pick(['CONNECTION_REFUSED', 'INVALID_CREDENTIALS'], t.reason_draw)
            WHEN 'SEND_INVITE' THEN 'USER_ALREADY_EXISTS'
            ELSE 'PERMISSION_DENIED'
        END
    END,
    t.user_id, t.user_email, t.user_role,
    CASE WHEN t.object_kind = 'user' THEN u.user_id ELSE o.object_id END,
    CASE WHEN t.object_kind = 'user' THEN u.user_email ELSE o.object_name END,
    t.ip_address, t.user_agent,
    'action-' || t.cand || '-' || t.step, t.session_id
FROM typed t
LEFT JOIN demo_objects o ON o.kind = t.object_kind AND o.idx = floor(
        CASE t.object_kind
            WHEN 'workbook' THEN t.focus_draw * t.focus_draw * 80
            WHEN 'dataset' THEN t.target_draw * 8
            WHEN 'connection' THEN t.target_draw * t.target_draw * 3
            WHEN 'team' THEN t.target_draw * 8
            ELSE 0
        END)
LEFT JOIN demo_users u ON t.object_kind = 'user' AND u.user_no = floor(t.target_draw * 119);

-- Logouts, after the last action; other sessions just time out.
INSERT INTO demo_events
SELECT s.started + to_microseconds(floor(((s.actions + 1) * s.pace + 30) * 1000000)::BIGINT),
       'ACCESS_SIGMA', 'LOGOUT', 'SUCCESS', NULL,
       s.user_id, s.user_email, s.user_role, NULL, NULL, s.ip_address, s.user_agent,
       'logout-' || s.cand, s.session_id
FROM demo_sessions s
WHERE s.failed_attempts < 5 AND s.logs_out;

-- The ETL service account calls the public API every hour, day and night.
INSERT INTO demo_events
WITH hours AS (
    SELECT date_trunc('hour', p.start_ts) + to_hours(h.range) AS hour_start, h.range AS hour_no
    FROM demo_params p, range(2161) h
), calls AS (
    SELECT h.*, c.range AS call_no,
        h.hour_start + to_seconds(300 + c.range * 2 + floor(demo_rnd(h.hour_no * 16 + c.range, 'api_jitter') * 2)::BIGINT) AS at,
        demo_rnd(h.hour_no * 16 + c.range, 'api_kind') AS kind_draw,
        demo_rnd(h.hour_no * 16 + c.range, 'api_outcome') AS outcome_draw,
        demo_rnd(h.hour_no * 16 + c.range, 'api_target') AS target_draw
    FROM hours h, range(1 + 3 + floor(demo_rnd(h.hour_no, 'api_calls') * 5)::INTEGER) c
)
SELECT
    c.at, 'PUBLIC_API',
    CASE
        WHEN c.call_no = 0 THEN 'API_AUTHENTICATE'
        WHEN c.kind_draw < 0.40 THEN 'API_LIST_WORKBOOKS'
        WHEN c.kind_draw < 0.65 THEN 'API_LIST_MEMBERS'
        WHEN c.kind_draw < 0.95 THEN 'API_EXPORT_WORKBOOK'
        ELSE 'API_UPDATE_MEMBER'
    END,
    CASE WHEN c.outcome_draw < 0.01 THEN 'FAILURE' ELSE 'SUCCESS' END,
    CASE WHEN c.outcome_draw < 0.01 THEN
        CASE WHEN c.call_no = 0 THEN 'INVALID_CLIENT_CREDENTIALS' ELSE 'RATE_LIMITED' END
    END,
    s.user_id, s.user_email, s.user_role,
    CASE WHEN c.call_no > 0 AND c.kind_draw >= 0.65 AND c.kind_draw < 0.95 THEN o.object_id END,
    CASE WHEN c.call_no > 0 AND c.kind_draw >= 0.65 AND c.kind_draw < 0.95 THEN o.object_name END,
    s.home_ip, s.user_agent,
    'api-' || c.hour_no || '-' || c.call_no, NULL
FROM calls c
JOIN demo_users s ON s.user_no = 119
LEFT JOIN demo_objects o ON o.kind = 'workbook' AND o.idx = floor(c.target_draw * 30);

-- Scheduled exports: twelve schedules owned by creators, every morning at
-- 06:00 UTC (weekday-only for the first four), run by Sigma's scheduler.
INSERT INTO demo_events
WITH days AS (
    SELECT date_trunc('day', p.start_ts) + to_days(d.range) AS day, d.range AS day_no
    FROM demo_params p, range(91) d
)
SELECT
    d.day + INTERVAL 6 HOUR + to_seconds(k.range * 37),
    'EXPORTS', 'EXPORT',
    CASE WHEN demo_rnd(d.day_no * 16 + k.range, 'sched_outcome') < 0.02 THEN 'FAILURE' ELSE 'SUCCESS' END,
    CASE WHEN demo_rnd(d.day_no * 16 + k.range, 'sched_outcome') < 0.02 THEN 'DESTINATION_UNREACHABLE' END,
    u.user_id, u.user_email, u.user_role, o.object_id, o.object_name,
    NULL, 'Sigma Scheduler',
    'schedule-' || d.day_no || '-' || k.range, NULL
FROM days d, range(12) k
JOIN demo_users u ON u.user_no = 5 + k.range * 3
JOIN demo_objects o ON o.kind = 'workbook' AND o.idx = k.range
WHERE k.range >= 4 OR isodow(d.day) <= 5;

-- Stray failed logins, 2 to 5 every calendar day the window touches:
-- mistyped passwords and addresses that have no account.
INSERT INTO demo_events
WITH days AS (
    SELECT
        greatest(date_trunc('day', p.start_ts) + to_days(d.range), p.start_ts) AS lo,
        least(date_trunc('day', p.start_ts) + to_days(d.range + 1), p.end_ts) AS hi,
        d.range AS day_no
    FROM demo_params p, range(92) d
), strays AS (
    SELECT d.*, k.range AS k,
        demo_rnd(d.day_no * 8 + k.range, 'stray_who') AS who,
        demo_rnd(d.day_no * 8 + k.range, 'stray_when') AS when_draw
    FROM days d, range(2 + floor(demo_rnd(d.day_no, 'strays') * 4)::INTEGER) k
    WHERE d.lo < d.hi
)
SELECT
    s.lo + to_microseconds(floor((epoch_us(s.hi) - epoch_us(s.lo)) * s.when_draw)::BIGINT),
    'ACCESS_SIGMA', 'LOGIN', 'FAILURE',
    CASE WHEN s.who < 0.5 THEN 'USER_NOT_FOUND' ELSE 'INVALID_PASSWORD' END,
    CASE WHEN s.who >= 0.5 THEN u.user_id END,
    CASE WHEN s.who < 0.5
        THEN demo_pick(['j.smith', 'admin', 'olivia.jonson', 'test', 'liam.nguyen2', 'finance', 'emma.garcai', 'support'], s.who * 2) || '@example.com'
        ELSE u.user_email END,
    CASE WHEN s.who >= 0.5 THEN u.user_role END,
    NULL, NULL,
    '192.0.2.' || (20 + floor(demo_rnd(s.day_no * 8 + s.k, 'stray_ip') * 200)::INTEGER),
    CASE WHEN s.who >= 0.5 THEN u.user_agent ELSE 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' END,
    'stray-' || s.day_no || '-' || s.k, NULL
FROM strays s
JOIN demo_users u ON u.user_no = floor(s.who * 2 * 119)::INTEGER % 119;

-- The credential-stuffing night: 260 to 320 attempts between 02:00 and
-- 05:30 UTC from six addresses, against real and made-up accounts.
INSERT INTO demo_events
WITH attempts AS (
    SELECT a.range AS n,
        p.spike_day + INTERVAL 2 HOUR + to_microseconds(floor(demo_rnd(a.range, 'spike_when') * 12600000000)::BIGINT) AS at,
        demo_rnd(a.range, 'spike_who') AS who,
        demo_rnd(a.range, 'spike_why') AS why
    FROM demo_params p, range(260 + floor(demo_rnd(0, 'spike_size') * 61)::INTEGER) a
)
SELECT
    a.at, 'ACCESS_SIGMA', 'LOGIN', 'FAILURE',
    CASE
        WHEN a.who < 0.2 THEN 'USER_NOT_FOUND'
        WHEN a.why < 0.12 THEN 'ACCOUNT_LOCKED'
        WHEN a.why < 0.18 THEN 'MFA_FAILED'
        ELSE 'INVALID_PASSWORD'
    END,
    CASE WHEN a.who >= 0.2 THEN u.user_id END,
    CASE WHEN a.who < 0.2 THEN 'user' || floor(a.who * 5000)::INTEGER || '@example.com' ELSE u.user_email END,
    CASE WHEN a.who >= 0.2 THEN u.user_role END,
    NULL, NULL,
    '203.0.113.' || (200 + a.n % 6),
    demo_pick(['python-requests/2.28.1', 'Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1)', 'curl/7.68.0'], demo_rnd(a.n, 'spike_agent')),
    'spike-' || a.n, NULL
FROM attempts a
JOIN demo_users u ON u.user_no = floor(a.who * 119)::INTEGER;

------------------------------------------------------------------------------
-- The table, in time order. REQUEST_ID is derived from each event's key and
-- the seed, so it is unique per event and repeatable; a re-delivered event
-- (about one in 500, chosen by a hash of its REQUEST_ID) appears twice,
-- identical.
------------------------------------------------------------------------------
CREATE OR REPLACE TABLE AUDIT_LOGS AS
WITH delivered AS (
    SELECT
        e.request_time             AS REQUEST_TIME,
        e.event_category           AS EVENT_CATEGORY,
        e.event_type               AS EVENT_TYPE,
        e.event_status             AS EVENT_STATUS,
        e.event_status_reason_code AS EVENT_STATUS_REASON_CODE,
        e.user_id                  AS USER_ID,
        e.user_email               AS USER_EMAIL,
        e.user_role                AS USER_ROLE,
        e.object_id                AS OBJECT_ID,
        e.object_name              AS OBJECT_NAME,
        e.ip_address               AS IP_ADDRESS,
        e.user_agent               AS USER_AGENT,
        demo_uuid('request-' || getvariable('demo_seed')::VARCHAR || '-' || e.request_key) AS REQUEST_ID,
        e.session_id               AS SESSION_ID
    FROM demo_events e, demo_params p
    WHERE e.request_time >= p.start_ts AND e.request_time < p.end_ts
)
SELECT * FROM delivered
UNION ALL
SELECT * FROM delivered WHERE demo_rnd(REQUEST_ID, 'redelivered') < 0.002
ORDER BY REQUEST_TIME, REQUEST_ID;

DROP TABLE demo_events;
DROP TABLE demo_sessions;
DROP TABLE demo_event_mix;
DROP TABLE demo_objects;
DROP TABLE demo_people;
DROP TABLE demo_users;
DROP TABLE demo_params;
DROP MACRO demo_uuid;
DROP MACRO demo_pick;
DROP MACRO demo_rnd;
