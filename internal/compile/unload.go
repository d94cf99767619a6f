package compile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/snowflake"
	"github.com/exportd/exportd/internal/workbook"
)

// warehouseUnloader is a source that can unload through a storage
// integration (the snowflake source).
type warehouseUnloader interface {
	Unloader() *snowflake.Unloader
}

// WarehouseUnload is the export.Unload of a schedule with unload: warehouse.
func WarehouseUnload(s *config.Schedule, src source.Source, c *Compiled) (*export.Unload, error) {
	wu, ok := src.(warehouseUnloader)
	if !ok {
		return nil, fmt.Errorf("schedule %q: unload: warehouse: source %q cannot unload (only snowflake sources can)", s.Name, s.Source)
	}
	ul := wu.Unloader()
	integration := s.Destination.IntegrationConfig.S3.SnowflakeIntegration
	gz := s.Destination.Gzip
	return &export.Unload{
		Integration: integration,
		Warehouse: export.UnloaderFunc(func(ctx context.Context, stmt, tag string) (string, []archive.UnloadedFile, error) {
			r, err := ul.Unload(ctx, stmt, tag)
			files := make([]archive.UnloadedFile, 0, len(r.Files))
			for _, f := range r.Files {
				files = append(files, archive.UnloadedFile{Name: f.Name, Bytes: f.Size, Rows: f.Rows})
			}
			return r.QueryID, files, err
		}),
		Statement: func(u domain.Unit, location string, parts bool) (string, error) {
			cq, args, err := c.Bind(u)
			if err != nil {
				return "", err
			}
			return cq.UnloadStatement(workbook.Unload{Location: location, Integration: integration, Gzip: gz,
				MaxFileSize: workbook.MaxSingleFileSize, Parts: parts}, args)
		},
		TooLarge: snowflake.IsFileTooLarge,
	}, nil
}

// checkUnload checks a schedule with unload: warehouse: offline, that its
// element can be unloaded (header names Snowflake would write unquoted);
// with --online, that the staging location Snowflake writes to (under the
// destination's _claims/) lies inside the storage integration's
// STORAGE_ALLOWED_LOCATIONS (DESC INTEGRATION); config already holds the
// destination inside the exportd integration's allowed_locations.
func (c *Compiler) checkUnload(ctx context.Context, s *config.Schedule, full *workbook.Compiled) []config.ElementError {
	if s.Unload != config.UnloadWarehouse || s.Destination.IntegrationConfig == nil {
		return nil
	}
	integration := s.Destination.IntegrationConfig.S3.SnowflakeIntegration
	t := time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC)
	args, err := full.Bind(workbook.Values{Now: t, WindowStart: t.Add(-24 * time.Hour), WindowEnd: t})
	if err == nil {
		_, err = full.UnloadStatement(workbook.Unload{Location: "s3://" + s.Destination.Bucket + "/check.csv",
			Integration: integration, MaxFileSize: workbook.MaxSingleFileSize}, args)
	}
	if errors.Is(err, workbook.ErrUnload) {
		return []config.ElementError{{Msg: "unload: warehouse: " + err.Error()}}
	}
	if !c.opts.Online {
		return nil
	}
	src, err := c.opts.Source(ctx, s.Source)
	if err != nil {
		return []config.ElementError{{Msg: "unload: warehouse: " + err.Error()}}
	}
	wu, ok := src.(warehouseUnloader)
	if !ok {
		return []config.ElementError{{Msg: fmt.Sprintf("unload: warehouse: source %q cannot unload", s.Source)}}
	}
	allowed, blocked, err := wu.Unloader().StorageAllowedLocations(ctx, integration)
	if err != nil {
		return []config.ElementError{{Msg: "unload: warehouse: " + err.Error()}}
	}
	// Snowflake writes only staging files, under the claims of the
	// destination (see export.Unload); the final objects are exportd's.
	staging := s.Destination.URI + domain.ClaimsDir + "/" + s.Name + "/"
	if err := snowflake.CheckStorageLocation(staging, allowed, blocked); err != nil {
		return []config.ElementError{{Msg: fmt.Sprintf("unload: warehouse: the staging location %s; allow it in storage integration %s "+
			"(ALTER STORAGE INTEGRATION %s SET STORAGE_ALLOWED_LOCATIONS = ('%s%s/'))", err, integration, integration, s.Destination.URI, domain.ClaimsDir)}}
	}
	return nil
}
