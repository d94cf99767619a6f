// Command snowenv starts, on 127.0.0.1, what Snowflake schedules need
// without a Snowflake account: the fakesnow Snowflake emulator loaded with
// the last days of the demo audit log (SIGMA_AUDIT.AUDIT.AUDIT_LOGS, Sigma's
// columns), a local S3 server (versitygw, with an Object Lock bucket), and
// the proxy in front of the emulator that answers COPY INTO <location> by
// writing the file into the S3 server. It writes into -dir a daemon config
// (a snowflake source on the proxy, a local folder and an s3 integration),
// the schedules of config/emulator (rows and the QuickStart, through
// exportd) and one with unload: warehouse, and the environment to use;
// prints how to run them; and stops everything on Ctrl-C.
//
//	go run ./internal/testenv/cmd/snowenv -dir /tmp/exportd-snowflake
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	_ "github.com/exportd/exportd/internal/source/snowflake/nominicore"
	sf "github.com/snowflakedb/gosnowflake/v2"

	"github.com/exportd/exportd/internal/testenv"
)

func main() {
	dir := flag.String("dir", "", "folder for the servers' data, the config and the env file (required)")
	days := flag.Int("days", 3, "days of demo audit log to load into the emulator")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "snowenv: set -dir, e.g. -dir /tmp/exportd-snowflake")
		os.Exit(2)
	}
	if err := run(*dir, *days); err != nil {
		fmt.Fprintln(os.Stderr, "snowenv:", err)
		os.Exit(1)
	}
}

func run(dir string, days int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, _ = filepath.Abs(dir)
	for _, d := range []string{"s3", "fakesnow", "schedules", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "starting versitygw and fakesnow (the first time installs them into the tools folder, a few minutes)")
	gw, err := testenv.StartVersityGW(filepath.Join(dir, "s3"))
	if err != nil {
		return err
	}
	defer gw.Stop()
	const bucket = "exportd-local"
	if err := gw.CreateBucket(ctx, bucket, true); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		return err
	}
	fs, err := testenv.NewFakesnow(filepath.Join(dir, "fakesnow"))
	if err != nil {
		return err
	}
	defer fs.Stop()
	direct := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, sf.Config{Account: "local", User: "exportd", Password: "local",
		Database: "SIGMA_AUDIT", Schema: "AUDIT", Protocol: "http", Host: fs.Host, Port: fs.Port, Tracing: "off", DisableOCSPChecks: true}))
	defer direct.Close()
	n, err := loadAuditLogs(ctx, direct, days)
	if err != nil {
		return err
	}
	proxy, err := testenv.ServeSnowProxy(fs)
	if err != nil {
		return err
	}
	defer proxy.Close()
	hook := &testenv.SnowUnload{DB: direct, S3: gw.Client(),
		Integrations: map[string][]string{"AUDIT_S3": {"s3://" + bucket + "/sigma/"}}}
	proxy.SetHook(hook.Hook)

	env := fmt.Sprintf("export SNOWFLAKE_PASSWORD=local\nexport LOCAL_S3_ACCESS_KEY=%s\nexport LOCAL_S3_SECRET_KEY=%s\n", gw.AccessKey, gw.SecretKey)
	files := map[string]string{
		"env":                                env,
		"exportd.yaml":                       fmt.Sprintf(configYAML, proxy.Port, gw.Endpoint, bucket),
		"schedules/daily-logins-unload.yaml": fmt.Sprintf(scheduleYAML, bucket),
	}
	// The streaming schedules are the repository's own (config/emulator).
	for _, name := range []string{"audit-log-rows.yaml", "daily-login-activity.yaml"} {
		b, err := os.ReadFile(filepath.Join("config", "emulator", "schedules", name))
		if err != nil {
			return fmt.Errorf("run from the repository's root: %w", err)
		}
		var keep []string
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if !strings.HasPrefix(l, "# yaml-language-server:") {
				keep = append(keep, l)
			}
		}
		files["schedules/"+name] = strings.Join(keep, "")
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	fmt.Printf(`ready: %d audit rows of the last %d days in the emulator (SIGMA_AUDIT.AUDIT.AUDIT_LOGS),
S3 on %s (bucket %s, Object Lock); config and schedules in %s
in another shell, from the repository:
  . %s/env
  go run ./cmd/exportd -c %s/exportd.yaml validate --online
  go run ./cmd/exportd -c %s/exportd.yaml run audit-log-rows
  go run ./cmd/exportd -c %s/exportd.yaml run daily-logins-unload
Ctrl-C stops the servers.
`, n, days, gw.Endpoint, bucket, dir, dir, dir, dir, dir)
	<-ctx.Done()
	return nil
}

const configYAML = `# Written by internal/testenv/cmd/snowenv: a snowflake source (the fakesnow
# emulator behind the unloading proxy), a local folder and an s3 integration
# (versitygw). The same source block, without host/port/protocol and with
# key-pair auth, is a production Snowflake (see the README).
state_dir: state
schedules_dir: schedules
sources:
  warehouse:
    type: snowflake
    account: local
    user: EXPORTD
    password: ${SNOWFLAKE_PASSWORD}   # the emulator takes any password
    database: SIGMA_AUDIT
    schema: AUDIT
    host: 127.0.0.1
    port: %d
    protocol: http
    timezone: UTC
    statement_timeout: 10m
integrations:
  local:
    type: folder
    path: archive
  local_s3:
    type: s3
    endpoint: %s
    force_path_style: true
    region: us-east-1
    access_key_id: ${LOCAL_S3_ACCESS_KEY}
    secret_access_key: ${LOCAL_S3_SECRET_KEY}
    allowed_locations: ["s3://%[3]s/sigma/"]
    object_lock: {mode: GOVERNANCE, retain: 1d}
    snowflake_integration: AUDIT_S3
runs:
  max_concurrent: 2
`

const scheduleYAML = `# Daily logins, unloaded by the warehouse (COPY INTO through AUDIT_S3).
name: daily-logins-unload
source: warehouse
cron: "0 6 * * *"
timezone: UTC
window: {every: day, column: Request Time, lag: 1h}
catch_up: latest
unload: warehouse
element:
  from: {table: AUDIT_LOGS}
  group_by:
    - formula: "[Request Time]"
      truncate: day
  columns:
    - name: Success
      formula: CountIf([Event Type] = "LOGIN", [Event Status] = "SUCCESS")
    - name: Failure
      formula: CountIf([Event Type] = "LOGIN", [Event Status] = "FAILURE")
destination:
  integration: local_s3
  uri: s3://%s/sigma/audit/
`

// loadAuditLogs generates the demo audit log in an embedded DuckDB (the
// repository's config/demo/audit_logs.sql) and copies its last days into the
// emulator.
func loadAuditLogs(ctx context.Context, db *sql.DB, days int) (int, error) {
	duck, err := sql.Open("duckdb", "")
	if err != nil {
		return 0, err
	}
	defer duck.Close()
	duck.SetMaxOpenConns(1)
	script, err := os.ReadFile(filepath.Join("config", "demo", "audit_logs.sql"))
	if err != nil {
		return 0, fmt.Errorf("run from the repository's root: %w", err)
	}
	end := time.Now().UTC().Truncate(time.Second)
	for _, q := range []string{"SET TimeZone = 'UTC'", "SET VARIABLE demo_end = '" + end.Format(time.RFC3339) + "'",
		"SET VARIABLE demo_seed = '42'", string(script)} {
		if _, err := duck.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("demo data: %w", err)
		}
	}
	const cols = "REQUEST_TIME, EVENT_CATEGORY, EVENT_TYPE, EVENT_STATUS, EVENT_STATUS_REASON_CODE, USER_ID, USER_EMAIL, " +
		"USER_ROLE, OBJECT_ID, OBJECT_NAME, IP_ADDRESS, USER_AGENT, REQUEST_ID, SESSION_ID"
	names := strings.Split(cols, ", ")
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS SIGMA_AUDIT", "CREATE SCHEMA IF NOT EXISTS SIGMA_AUDIT.AUDIT",
		"CREATE OR REPLACE TABLE AUDIT_LOGS (REQUEST_TIME TIMESTAMP_NTZ, " + strings.Join(names[1:], " TEXT, ") + " TEXT)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("emulator: %w", err)
		}
	}
	rows, err := duck.QueryContext(ctx, `SELECT strftime(REQUEST_TIME, '%Y-%m-%d %H:%M:%S.%f'), `+strings.Join(names[1:], ", ")+`
		FROM AUDIT_LOGS WHERE REQUEST_TIME >= $1::TIMESTAMP ORDER BY REQUEST_TIME`, end.AddDate(0, 0, -days).Format("2006-01-02 15:04:05"))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	lit := func(v sql.NullString) string {
		if !v.Valid {
			return "NULL"
		}
		return "'" + strings.ReplaceAll(strings.ReplaceAll(v.String, `\`, `\\`), "'", "''") + "'"
	}
	n := 0
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := db.ExecContext(ctx, "INSERT INTO AUDIT_LOGS VALUES "+strings.Join(batch, ", "))
		batch = batch[:0]
		return err
	}
	v := make([]sql.NullString, len(names))
	ptrs := make([]any, len(names))
	for i := range v {
		ptrs[i] = &v[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		lits := make([]string, len(v))
		for i := range v {
			lits[i] = lit(v[i])
		}
		batch = append(batch, "("+strings.Join(lits, ", ")+")")
		n++
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}
