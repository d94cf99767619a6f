package archive

// Unload records a warehouse-side unload (Snowflake COPY INTO <location>
// through a storage integration): the warehouse wrote the file(s) to a
// staging key, and exportd promoted each to Objects[i], create-only, after
// reading it back.
type Unload struct {
	// Method is "warehouse".
	Method string `json:"method"`
	// StorageIntegration is the warehouse's storage integration.
	StorageIntegration string `json:"storage_integration"`
	// Statement is the COPY INTO statement as sent, bounds written in.
	Statement string `json:"statement"`
	// QueryID finds the statement in the warehouse's query history.
	QueryID string `json:"query_id"`
	// Parts is true when the result was too large for one file and was
	// unloaded as several, each with its own header.
	Parts bool `json:"parts,omitempty"`
	// Files are the statement's DETAILED_OUTPUT rows, in Objects order.
	Files []UnloadedFile `json:"files"`
}

// UnloadedFile is one DETAILED_OUTPUT row: the file as the warehouse
// reported it.
type UnloadedFile struct {
	// Name is the warehouse's FILE_NAME (relative to the unload location).
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	Rows  int64  `json:"rows"`
}
