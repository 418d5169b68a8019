package sqldb_test

import (
	"io/fs"
	"testing/fstest"
)

// badFS is a migration set whose only file fails halfway through.
type badFS struct{ dialect string }

func (b badFS) Open(name string) (fs.File, error) {
	return fstest.MapFS{
		b.dialect + "/0001_broken.sql": {Data: []byte("CREATE TABLE half_done (id INTEGER);\nTHIS IS NOT SQL;\n")},
	}.Open(name)
}
