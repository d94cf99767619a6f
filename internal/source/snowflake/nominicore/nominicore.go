// Package nominicore keeps gosnowflake from loading its embedded native
// library ("minicore"): at init that library is written to a temporary
// folder and loaded with dlopen, which exportd does not need and which a
// read-only or noexec temporary folder refuses.
//
// Import it (blank) next to gosnowflake. Go initializes packages that do not
// depend on each other in import-path order, and github.com/exportd/... sorts
// before github.com/snowflakedb/..., so this init runs before gosnowflake's.
// An operator's own SF_DISABLE_MINICORE setting wins.
package nominicore

import "os"

func init() {
	if _, ok := os.LookupEnv("SF_DISABLE_MINICORE"); !ok {
		_ = os.Setenv("SF_DISABLE_MINICORE", "true")
	}
}
