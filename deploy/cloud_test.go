package deploy_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
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

	for _, name := range []string{"exportd-policy.json", "snowflake-unload-policy.json"} {
		var actions []string
		for _, st := range readPolicy(t, name).Statement {
			for _, r := range st.Resource {
				if strings.HasPrefix(r, "arn:aws:s3:::") && r != bucketARN && r != objectsARN {
					t.Errorf("aws/%s: resource %s is neither %s nor %s", name, r, bucketARN, objectsARN)
				}
			}
			for _, a := range st.Action {
				if strings.Contains(a, "*") {
					t.Errorf("aws/%s: wildcard action %s", name, a)
				}
				actions = append(actions, a)
			}
		}
		if name == "snowflake-unload-policy.json" {
			slices.Sort(actions)
			if want := []string{"s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"}; !slices.Equal(actions, want) {
				t.Errorf("aws/%s: actions %v, want %v", name, actions, want)
			}
		}
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
		"STORAGE_ALLOWED_LOCATIONS = ('" + cfg.Integrations["audit_archive"].S3.AllowedLocations[0] + "')",
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
