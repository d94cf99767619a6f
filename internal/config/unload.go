package config

import (
	"regexp"
)

// Unload says who writes a schedule's file.
type Unload string

// UnloadWarehouse has the warehouse write the file to the bucket itself
// (Snowflake COPY INTO <location> through the destination integration's
// snowflake_integration); exportd checks, promotes and commits it.
const UnloadWarehouse Unload = "warehouse"

// sfIdentRE is an unquoted Snowflake identifier.
var sfIdentRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,254}$`)

func (l *loader) checkSnowflakeIntegration(f *fileState, p string, s *S3Options) {
	if s.SnowflakeIntegration != "" && !sfIdentRE.MatchString(s.SnowflakeIntegration) {
		l.errorf(f, p+".snowflake_integration", "%s is not an unquoted Snowflake identifier; write the integration's name, e.g. AUDIT_S3",
			quoteShort(s.SnowflakeIntegration))
	}
}

// checkUnload checks unload: warehouse against the schedule's source and
// destination.
func (l *loader) checkUnload(f *fileState, s *Schedule, raw *scheduleFile) {
	switch Unload(raw.Unload) {
	case "":
		return
	case UnloadWarehouse:
		s.Unload = UnloadWarehouse
	default:
		l.errorf(f, "unload", "unknown unload %s; use warehouse (Snowflake writes the file through its storage integration) or leave unload out (rows stream through exportd)",
			quoteShort(raw.Unload))
		return
	}
	if src := s.SourceConfig; src != nil && src.Type != SourceSnowflake {
		l.errorf(f, "unload", "warehouse needs a snowflake source; %q is a %s source: leave unload out", src.Name, src.Type)
	}
	ig := s.Destination.IntegrationConfig
	switch {
	case ig == nil:
		// The destination's own error says enough.
	case ig.Type != IntegrationS3:
		l.errorf(f, "unload", "warehouse needs an s3 destination; %q is a %s integration", ig.Name, ig.Type)
	case ig.S3.SnowflakeIntegration == "":
		l.errorf(f, "unload", "warehouse needs the Snowflake storage integration that writes to the bucket: set integrations.%s.snowflake_integration (e.g. AUDIT_S3) in the daemon config", ig.Name)
	}
}
