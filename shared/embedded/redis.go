package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"time"
	"unsafe"

	"github.com/alicebob/miniredis/v2"
)

// forgetEvery is how many ticks of KeepTime pass between two runs of
// forgetDeletedKeyVersions: a minute on devstack's one-second ticker. The
// run rebuilds a map of the live keys under miniredis's lock, so it is not
// worth doing on every tick; versions of keys deleted in the last minute are
// all it lets build up.
const forgetEvery = 60

// StartRedis starts an in-memory Redis (miniredis) on 127.0.0.1 at a random
// free port. The caller closes it with Close. Its TTLs do not run until
// KeepTime drives them: miniredis never advances a clock of its own.
func StartRedis() (*miniredis.Miniredis, error) {
	m, err := miniredis.Run()
	if err != nil {
		return nil, fmt.Errorf("embedded: start redis: %w", err)
	}
	return m, nil
}

// KeepTime makes m keep time with now until ctx ends: on every value of
// tick it sets m's clock to now(), and m's TTLs run down by the time that
// passed, so keys expire as they would on a real Redis (rate entries after
// their 10 minutes, tombstones, ranking windows, dedupe days). Without it a
// long-running devstack keeps every key it ever wrote. Expired keys are
// dropped at the next command that touches the database, as miniredis
// does. The stack passes its own clock, so a test on a fake clock expires
// keys by advancing it.
//
// Every forgetEvery ticks (a minute of devstack's) it also forgets the
// WATCH versions of keys that no longer exist (see
// forgetDeletedKeyVersions), which miniredis keeps forever: without that, a
// devstack writing many short-lived key names grows its heap without bound. If miniredis's internals are not what that
// step expects, KeepTime logs the error once on log (nil discards it) and
// goes on keeping time without it.
func KeepTime(ctx context.Context, m *miniredis.Miniredis, now func() time.Time, tick <-chan time.Time, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m.SetTime(now())
	m.ClockTTL(true)
	ticks, forget := 0, true
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			m.SetTime(now())
			if ticks++; !forget || ticks < forgetEvery {
				continue
			}
			ticks = 0
			dropped, err := forgetDeletedKeyVersions(m)
			if err != nil {
				log.Warn("cannot forget WATCH versions of deleted keys; memory now grows with every key name written", "err", err)
				forget = false
				continue
			}
			if dropped > 0 {
				log.Debug("forgot WATCH versions of deleted keys", "dropped", dropped)
			}
		}
	}
}

// RedisURL returns the redis:// URL of m's database 0, the form
// RATEWIRE_REDIS_URL takes, so services connect to the embedded server
// exactly as they would to a real one.
func RedisURL(m *miniredis.Miniredis) string {
	return "redis://" + m.Addr() + "/0"
}

// forgetDeletedKeyVersions drops, in every database of m, the WATCH version
// of each key that no longer exists, and returns how many it dropped.
// miniredis v2.40.0 counts a version per key name in RedisDB.keyVersion,
// bumps it on every write and delete, and never removes it, so the map holds
// every key name ever written; nothing in its API clears it. This replaces
// each database's map with a new one holding only the live keys' versions
// (a Go map never shrinks, so deleting from it would free nothing). It holds
// m's lock, the one miniredis guards its databases with, for O(live keys).
// A key whose TTL ran out counts as live until miniredis drops it at the next
// command; its version goes at the run after that.
//
// A version only matters to a client that WATCHes the key: EXEC fails if the
// version grew since the WATCH. Forgetting the version of a deleted key can
// hide a change from a client that WATCHed it before the prune (the key, if
// written again, restarts at version 1), so this is only safe because
// ratewire's services never use WATCH: they use Lua scripts and MULTI
// without WATCH. Live keys keep their versions, so a WATCH on a key that
// exists behaves as before. The embedded server is devstack's only.
//
// It reaches miniredis's unexported fields through reflect and unsafe. If a
// field is missing or has another type (a miniredis after v2.40.0 changed its
// internals), it changes nothing and returns an error naming the field.
func forgetDeletedKeyVersions(m *miniredis.Miniredis) (dropped int, err error) {
	m.Lock()
	defer m.Unlock()
	dbs, err := versionedDBs(m)
	if err != nil {
		return 0, err
	}
	for _, db := range dbs {
		live := make(map[string]uint, len(*db.keys))
		for k := range *db.keys {
			if v, ok := (*db.keyVersion)[k]; ok {
				live[k] = v
			}
		}
		dropped += len(*db.keyVersion) - len(live)
		*db.keyVersion = live
	}
	return dropped, nil
}

// versionedDB points at the two maps of one miniredis database that
// forgetDeletedKeyVersions reads and replaces.
type versionedDB struct {
	keys       *map[string]string // key name -> type, the keys that exist
	keyVersion *map[string]uint   // key name -> WATCH version
}

// versionedDBs reaches the key and version maps of every database of m. The
// caller holds m's lock. It checks every field before returning any, so on
// an error the caller has nothing half done.
func versionedDBs(m *miniredis.Miniredis) ([]versionedDB, error) {
	dbs, err := unexportedField[map[int]*miniredis.RedisDB](reflect.ValueOf(m).Elem(), "dbs")
	if err != nil {
		return nil, err
	}
	out := make([]versionedDB, 0, len(*dbs))
	for _, db := range *dbs {
		if db == nil {
			continue
		}
		v := reflect.ValueOf(db).Elem()
		keys, err := unexportedField[map[string]string](v, "keys")
		if err != nil {
			return nil, err
		}
		versions, err := unexportedField[map[string]uint](v, "keyVersion")
		if err != nil {
			return nil, err
		}
		out = append(out, versionedDB{keys: keys, keyVersion: versions})
	}
	return out, nil
}

// unexportedField returns a pointer to the field name of the addressable
// struct v, or an error if v has no such field or it is not a T.
func unexportedField[T any](v reflect.Value, name string) (*T, error) {
	f := v.FieldByName(name)
	if !f.IsValid() {
		return nil, fmt.Errorf("embedded: %s has no field %s (written against miniredis v2.40.0)", v.Type(), name)
	}
	if want := reflect.TypeFor[T](); f.Type() != want {
		return nil, fmt.Errorf("embedded: %s.%s is %s, not %s (written against miniredis v2.40.0)", v.Type(), name, f.Type(), want)
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Interface().(*T), nil
}
