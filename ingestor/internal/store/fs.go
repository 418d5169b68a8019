package store

import (
	"io/fs"
)

// sub strips the embed root so the migration set is rooted at its dialect
// directories, as sqldb.Migrate expects.
func sub(f fs.FS) fs.FS {
	s, err := fs.Sub(f, "migrations")
	if err != nil {
		panic(err) // the directory is embedded at build time; absence is a build bug
	}
	return s
}
