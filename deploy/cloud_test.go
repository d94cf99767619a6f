package deploy_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
)

type iamPolicy struct {
	Statement []struct {
		Effect    string
		Principal map[string]string
		Action    stringList
		Resource  stringList
		Condition map[string]map[string]stringList
	}
}

// stringList is an IAM field that is a string or a list of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*l = []string{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

func readPolicy(t *testing.T, name string) iamPolicy {
	t.Helper()
	data, err := os.ReadFile("aws/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var p iamPolicy
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("aws/%s: %v", name, err)
	}
	if len(p.Statement) == 0 {
		t.Fatalf("aws/%s: no statements", name)
	}
	return p
}

// TestAWSPolicies: the policies name the bucket and prefix of the
// production config, the Snowflake unload role gets exactly what Snowflake
// documents for an unload, and every trust policy is scoped (external id,
// or the service account of the Kubernetes manifests).
func TestAWSPolicies(t *testing.T) {
	cfg := prodConfig(t)
	loc := strings.TrimPrefix(cfg.Integrations["audit_archive"].S3.AllowedLocations[0], "s3://")
	bucket, prefix, _ := strings.Cut(loc, "/")
	bucketARN, objectsARN := "arn:aws:s3:::"+bucket, "arn:aws:s3:::"+bucket+"/"+prefix+"*"

	var actions []string
	for _, st := range readPolicy(t, "exportd-policy.json").Statement {
		for _, r := range st.Resource {
			if strings.HasPrefix(r, "arn:aws:s3:::") && r != bucketARN && r != objectsARN {
				t.Errorf("aws/exportd-policy.json: resource %s is neither %s nor %s", r, bucketARN, objectsARN)
			}
		}
		for _, a := range st.Action {
			if strings.Contains(a, "*") {
				t.Errorf("aws/exportd-policy.json: wildcard action %s", a)
			}
			actions = append(actions, a)
		}
	}

	// Snowflake's role writes only the unload's staging files, under the
	// destination's _claims/ (exportd reads them back and promotes them).
	staging := stagingPrefix(t, cfg)
	stagingARN := "arn:aws:s3:::" + bucket + "/" + staging + "*"
	actions = nil
	for _, st := range readPolicy(t, "snowflake-unload-policy.json").Statement {
		for _, r := range st.Resource {
			if r != bucketARN && r != stagingARN {
				t.Errorf("aws/snowflake-unload-policy.json: resource %s is neither %s nor %s", r, bucketARN, stagingARN)
			}
		}
		if r := st.Resource; slices.Equal(r, []string{bucketARN}) {
			if p := st.Condition["StringLike"]["s3:prefix"]; !slices.Equal(p, []string{staging + "*"}) {
				t.Errorf("aws/snowflake-unload-policy.json: listing limited to %v, want [%s*]", p, staging)
			}
		}
		actions = append(actions, st.Action...)
	}
	slices.Sort(actions)
	if want := []string{"s3:DeleteObject", "s3:GetBucketLocation", "s3:ListBucket", "s3:PutObject"}; !slices.Equal(actions, want) {
		t.Errorf("aws/snowflake-unload-policy.json: actions %v, want %v", actions, want)
	}

	for _, name := range []string{"exportd-trust-policy-external-id.json", "snowflake-trust-policy.json"} {
		for _, st := range readPolicy(t, name).Statement {
			if !slices.Equal(st.Action, []string{"sts:AssumeRole"}) || len(st.Condition["StringEquals"]["sts:ExternalId"]) != 1 {
				t.Errorf("aws/%s: want sts:AssumeRole only with an sts:ExternalId condition", name)
			}
		}
	}
	m := buildKustomization(t)
	sub := "system:serviceaccount:" + m.account.Namespace + ":" + m.account.Name
	found := false
	for _, st := range readPolicy(t, "exportd-trust-policy-irsa.json").Statement {
		for k, v := range st.Condition["StringEquals"] {
			found = found || (strings.HasSuffix(k, ":sub") && slices.Equal(v, []string{sub}))
		}
	}
	if !found {
		t.Errorf("aws/exportd-trust-policy-irsa.json does not trust %s", sub)
	}
}

// TestSnowflakeSQL: the integration and grants name what the production
// config and schedules use.
func TestSnowflakeSQL(t *testing.T) {
	data, err := os.ReadFile("snowflake/storage-integration.sql")
	if err != nil {
		t.Fatal(err)
	}
	sql := string(data)
	cfg := prodConfig(t)
	var sf = cfg.Sources["sigma"]
	if sf == nil || sf.Type != "snowflake" {
		t.Fatal("deploy/config/exportd.yaml: want the snowflake source sigma")
	}
	o := sf.Snowflake
	integration := regexp.MustCompile(`CREATE STORAGE INTEGRATION IF NOT EXISTS (\w+)`).FindStringSubmatch(sql)
	if integration == nil {
		t.Fatal("no CREATE STORAGE INTEGRATION")
	}
	var tables []string
	for _, s := range cfg.Schedules {
		if s.Source == "sigma" && s.Element.From.Table != "" {
			tables = append(tables, "GRANT SELECT ON TABLE "+o.Database+"."+o.Schema+"."+s.Element.From.Table+" TO ROLE "+o.Role+";")
		}
	}
	want := append([]string{
		"GRANT USAGE ON WAREHOUSE " + o.Warehouse + " TO ROLE " + o.Role + ";",
		"GRANT USAGE ON DATABASE " + o.Database + " TO ROLE " + o.Role + ";",
		"GRANT USAGE ON SCHEMA " + o.Database + "." + o.Schema + " TO ROLE " + o.Role + ";",
		"GRANT USAGE ON INTEGRATION " + integration[1] + " TO ROLE " + o.Role + ";",
		"GRANT ROLE " + o.Role + " TO USER " + o.User + ";",
		"STORAGE_ALLOWED_LOCATIONS = ('s3://" + bucketOf(cfg) + "/" + stagingPrefix(t, cfg) + "')",
		"CREATE STORAGE INTEGRATION IF NOT EXISTS " + cfg.Integrations["audit_archive"].S3.SnowflakeIntegration + "\n",
	}, tables...)
	if len(tables) == 0 {
		t.Fatal("no schedule reads a table of the snowflake source")
	}
	for _, w := range want {
		if !strings.Contains(sql, w) {
			t.Errorf("snowflake/storage-integration.sql lacks %q", w)
		}
	}
	if regexp.MustCompile(`(?i)GRANT\s+(ALL|OWNERSHIP)`).MatchString(sql) {
		t.Error("snowflake/storage-integration.sql grants ALL or OWNERSHIP")
	}
}

// stagingPrefix is the key prefix under which Snowflake unloads the
// production schedules' staging files: the destination's _claims/. The
// production schedules share one destination.
func stagingPrefix(t *testing.T, cfg *config.Config) string {
	t.Helper()
	var prefix string
	for _, s := range cfg.Schedules {
		if s.Destination.Integration != "audit_archive" {
			continue
		}
		p := s.Destination.Prefix + "/" + domain.ClaimsDir + "/"
		if prefix != "" && p != prefix {
			t.Fatalf("production schedules write under %s and %s: the unload policy names one staging prefix", prefix, p)
		}
		prefix = p
	}
	if prefix == "" {
		t.Fatal("no production schedule writes to audit_archive")
	}
	return prefix
}

// bucketOf is the production archive's bucket.
func bucketOf(cfg *config.Config) string {
	b, _, _ := strings.Cut(strings.TrimPrefix(cfg.Integrations["audit_archive"].S3.AllowedLocations[0], "s3://"), "/")
	return b
}

// TestBucketLifecycle: the lifecycle rules of aws/bucket-lifecycle.json
// abort incomplete uploads under the archive and expire the noncurrent
// versions that claims, unload staging files, the head and pause markers
// leave on a versioned (Object Lock) bucket, under the production
// schedules' prefix; no rule expires current archive objects.
func TestBucketLifecycle(t *testing.T) {
	data, err := os.ReadFile("aws/bucket-lifecycle.json")
	if err != nil {
		t.Fatal(err)
	}
	var lc struct {
		Rules []struct {
			ID     string
			Status string
			Filter struct{ Prefix string }

			AbortIncompleteMultipartUpload *struct{ DaysAfterInitiation int }
			NoncurrentVersionExpiration    *struct{ NoncurrentDays int }
			Expiration                     *struct {
				Days                      int
				ExpiredObjectDeleteMarker bool
			}
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&lc); err != nil {
		t.Fatalf("aws/bucket-lifecycle.json: %v", err)
	}
	cfg := prodConfig(t)
	_, archivePrefix, _ := strings.Cut(strings.TrimPrefix(cfg.Integrations["audit_archive"].S3.AllowedLocations[0], "s3://"), "/")
	schedPrefix := strings.TrimSuffix(stagingPrefix(t, cfg), domain.ClaimsDir+"/")
	want := map[string]bool{schedPrefix + domain.ClaimsDir + "/": false, schedPrefix + domain.HeadDir + "/": false,
		schedPrefix + domain.PausedDir + "/": false}
	abort := false
	for _, r := range lc.Rules {
		if r.Status != "Enabled" {
			t.Errorf("rule %s is not enabled", r.ID)
		}
		if r.Expiration != nil && r.Expiration.Days != 0 {
			t.Errorf("rule %s expires current objects", r.ID)
		}
		if r.AbortIncompleteMultipartUpload != nil && r.Filter.Prefix == archivePrefix {
			abort = true
		}
		if _, ok := want[r.Filter.Prefix]; ok && r.NoncurrentVersionExpiration != nil && r.NoncurrentVersionExpiration.NoncurrentDays > 0 {
			want[r.Filter.Prefix] = true
		}
	}
	if !abort {
		t.Errorf("no rule aborts incomplete multipart uploads under %s", archivePrefix)
	}
	for p, ok := range want {
		if !ok {
			t.Errorf("no rule expires the noncurrent versions under %s", p)
		}
	}
}
