// Package board is the Redis side of the ranking: the leaderboards (one
// sorted set per board, implementing rank.Boards) and the abuse limiter
// (implementing rank.Limiter). Every key starts with a caller-chosen
// prefix — empty in production, a per-test namespace in tests — and the
// leaderboard keys share one hash tag so the scripts that touch several
// boards at once stay valid on a Redis Cluster.
//
// How a board stays equal to SQL. Each SQL change carries a sequence
// number N (see rank). A live board has a marker key holding the N of the
// SQL snapshot it was built from; the Apply script adds a change to a
// board only when the marker exists and the change is newer than it. A
// board without a marker (never built, flushed, expired or invalidated)
// is not touched: the change is parked in the board's pending set
// instead, and the Fill script that rebuilds the board from a snapshot at
// N adds exactly the parked changes newer than N. Each change therefore
// reaches a board once, whatever the interleaving of SQL commits, Redis
// updates and rebuilds across instances. Markers, boards and pending sets
// expire, so a board that missed a change (a crash between the SQL commit
// and the Redis update) heals within the TTL.
package board

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ratewire/ratewire/ranking/internal/rank"
)

// Lifetimes of the leaderboard keys.
const (
	// BoardTTL is how long a built board (and its marker) lives: it bounds
	// how long a board can miss a change a crashed instance never added,
	// and lets boards of past periods leave Redis.
	BoardTTL = time.Hour
	// PendingTTL bounds how long changes wait for a rebuild; a rebuild
	// takes milliseconds, and one that finds its pending set expired
	// has a snapshot that already includes those changes.
	PendingTTL = 10 * time.Minute
)

// Boards implements rank.Boards on Redis sorted sets.
type Boards struct {
	c      redis.UniversalClient
	prefix string
}

var _ rank.Boards = (*Boards)(nil)

// New returns the boards on c with every key starting with prefix.
func New(c redis.UniversalClient, prefix string) *Boards { return &Boards{c: c, prefix: prefix} }

// Keys of one board: its sorted set, its marker and its pending set.
func (b *Boards) keys(bd rank.Board) (board, marker, pending string) {
	base := b.prefix + "ranking:{lb}:"
	id := bd.ID()
	return base + "board:" + id, base + "marker:" + id, base + "pending:" + id
}

// applyScript adds one change to each of its boards (see the package
// comment). KEYS are (board, marker, pending) triples; ARGV[1] is the
// change's sequence number, ARGV[2] the pending TTL in ms, and ARGV[2+i]
// the deltas for board i as "CC:delta CC:delta ...". It returns, per
// board, {} when the board is not live, else {CC, score, rank, ...} with
// the competition rank (1 + members with a higher score).
var applyScript = redis.NewScript(`
local seq = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 3 do
  local board, marker, pending = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  local spec = ARGV[2+i]
  local w = redis.call('GET', marker)
  local res = {}
  if w then
    local fresh = seq > tonumber(w)
    for cc, d in string.gmatch(spec, '(%u%u):(-?%d+)') do
      local s
      if fresh then
        s = tonumber(redis.call('ZINCRBY', board, d, cc))
      else
        s = tonumber(redis.call('ZSCORE', board, cc) or '0')
      end
      local above = redis.call('ZCOUNT', board, '(' .. s, '+inf')
      res[#res+1] = cc
      res[#res+1] = s
      res[#res+1] = above + 1
    end
  else
    for cc, d in string.gmatch(spec, '(%u%u):(-?%d+)') do
      redis.call('ZADD', pending, seq, seq .. ':' .. cc .. ':' .. d)
    end
    redis.call('PEXPIRE', pending, ARGV[2])
  end
  out[i] = res
end
return out
`)

// fillScript builds a board from a snapshot unless it is live. KEYS are
// board, marker, pending; ARGV[1] is the snapshot's sequence number,
// ARGV[2] the board TTL in ms, then CC, count pairs. Parked changes newer
// than the snapshot are added; older ones are already in it.
var fillScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local seq = tonumber(ARGV[1])
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[i+1], ARGV[i])
end
local parked = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. seq, '+inf')
for _, m in ipairs(parked) do
  local cc, d = string.match(m, '^%d+:(%u%u):(-?%d+)$')
  if cc then redis.call('ZINCRBY', KEYS[1], d, cc) end
end
redis.call('DEL', KEYS[3])
redis.call('SET', KEYS[2], seq, 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// Apply implements rank.Boards.
func (b *Boards) Apply(ctx context.Context, seq int64, deltas []rank.Delta) (map[rank.Board]map[string]rank.Standing, error) {
	specs := map[rank.Board]*strings.Builder{}
	var order []rank.Board
	for _, d := range deltas {
		if !validCode(d.Country) {
			return nil, fmt.Errorf("apply clicks: bad country code %q", d.Country)
		}
		for _, bd := range rank.BoardsOf(d.Day) {
			sb, ok := specs[bd]
			if !ok {
				sb = &strings.Builder{}
				specs[bd] = sb
				order = append(order, bd)
			}
			if sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(d.Country)
			sb.WriteByte(':')
			sb.WriteString(strconv.FormatInt(d.Clicks, 10))
		}
	}
	keys := make([]string, 0, 3*len(order))
	args := make([]any, 0, 2+len(order))
	args = append(args, seq, PendingTTL.Milliseconds())
	for _, bd := range order {
		k1, k2, k3 := b.keys(bd)
		keys = append(keys, k1, k2, k3)
		args = append(args, specs[bd].String())
	}
	res, err := applyScript.Run(ctx, b.c, keys, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("apply clicks to leaderboards: %w", err)
	}
	out := make(map[rank.Board]map[string]rank.Standing, len(order))
	for i, bd := range order {
		if i >= len(res) {
			break
		}
		items, _ := res[i].([]any)
		if len(items) == 0 {
			continue
		}
		m := make(map[string]rank.Standing, len(items)/3)
		for j := 0; j+2 < len(items); j += 3 {
			code, _ := items[j].(string)
			score, _ := items[j+1].(int64)
			rk, _ := items[j+2].(int64)
			m[code] = rank.Standing{Clicks: score, Rank: int(rk)}
		}
		out[bd] = m
	}
	return out, nil
}

// Scores implements rank.Boards with one round trip.
func (b *Boards) Scores(ctx context.Context, bd rank.Board) (map[string]int64, bool, error) {
	board, marker, _ := b.keys(bd)
	pipe := b.c.Pipeline()
	mk := pipe.Exists(ctx, marker)
	zs := pipe.ZRangeWithScores(ctx, board, 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, false, fmt.Errorf("read leaderboard %s: %w", bd.ID(), err)
	}
	if mk.Val() == 0 {
		return nil, false, nil
	}
	out := make(map[string]int64, len(zs.Val()))
	for _, z := range zs.Val() {
		if code, ok := z.Member.(string); ok && z.Score > 0 {
			out[code] = int64(z.Score)
		}
	}
	return out, true, nil
}

// Fill implements rank.Boards.
func (b *Boards) Fill(ctx context.Context, bd rank.Board, seq int64, counts map[string]int64) error {
	board, marker, pending := b.keys(bd)
	args := make([]any, 0, 2+2*len(counts))
	args = append(args, seq, BoardTTL.Milliseconds())
	for code, n := range counts {
		args = append(args, code, n)
	}
	if err := fillScript.Run(ctx, b.c, []string{board, marker, pending}, args...).Err(); err != nil {
		return fmt.Errorf("fill leaderboard %s: %w", bd.ID(), err)
	}
	return nil
}

// Invalidate implements rank.Boards: removing the markers makes the next
// read rebuild each board and parks changes until it does.
func (b *Boards) Invalidate(ctx context.Context, boards ...rank.Board) error {
	if len(boards) == 0 {
		return nil
	}
	keys := make([]string, len(boards))
	for i, bd := range boards {
		_, keys[i], _ = b.keys(bd)
	}
	if err := b.c.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("invalidate leaderboards: %w", err)
	}
	return nil
}

func validCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
