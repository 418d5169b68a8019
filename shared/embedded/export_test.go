package embedded

import (
	"reflect"

	"github.com/alicebob/miniredis/v2"
)

// ForgetEvery and ForgetDeletedKeyVersions let the external tests drive and
// check the prune that KeepTime runs.
const ForgetEvery = forgetEvery

var ForgetDeletedKeyVersions = forgetDeletedKeyVersions

// KeyVersions returns how many WATCH versions m holds across its databases,
// the number forgetDeletedKeyVersions keeps down to the live keys.
func KeyVersions(m *miniredis.Miniredis) (int, error) {
	m.Lock()
	defer m.Unlock()
	dbs, err := versionedDBs(m)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, db := range dbs {
		n += len(*db.keyVersion)
	}
	return n, nil
}

// UnexportedField returns the error forgetDeletedKeyVersions would give for
// field name of the struct p points to, read as a T.
func UnexportedField[T any](p any, name string) error {
	_, err := unexportedField[T](reflect.ValueOf(p).Elem(), name)
	return err
}
