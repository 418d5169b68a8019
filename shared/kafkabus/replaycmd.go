package kafkabus

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// ReplayCommand is the `replay-dlq` subcommand of every consuming service:
// it moves dead-lettered messages of one topic from "<topic>.dlq" back to
// the topic, through Replay, and prints what it did to out. Messages keep
// their event_id, so consumer groups that already handled one skip it.
//
//	<svc> replay-dlq --topic exchange_rate_updated [--since 2h | --since 2026-11-22T00:00:00Z]
//	    [--until ...] [--error-class transient|invalid|permanent] [--group <svc's group>|any] [--dry-run]
//
// --group defaults to group, the calling service's consumer group, so a
// replay after one service's outage does not resend what other services
// dead-lettered; pass --group any for all. Durations count back from now.
func ReplayCommand(ctx context.Context, brokers []string, group string, args []string, now time.Time, out io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("replay-dlq", flag.ContinueOnError)
	fs.SetOutput(out)
	topic := fs.String("topic", "", "original topic whose <topic>.dlq is replayed (required)")
	since := fs.String("since", "", "only messages dead-lettered at or after this RFC 3339 time, or this long ago (e.g. 2h)")
	until := fs.String("until", "", "only messages dead-lettered before this RFC 3339 time, or this long ago")
	class := fs.String("error-class", "", "only this error class: transient, invalid or permanent (default all)")
	groupFlag := fs.String("group", group, `only messages dead-lettered by this consumer group; "any" for all`)
	dry := fs.Bool("dry-run", false, "count what would be replayed, publish nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *topic == "" {
		return errors.New("replay-dlq: --topic is required")
	}
	if len(brokers) == 0 {
		return errors.New("replay-dlq: RATEWIRE_KAFKA_BROKERS is not set")
	}
	c := ReplayConfig{Brokers: brokers, Topic: *topic, ErrorClass: *class, ConsumerGroup: *groupFlag, DryRun: *dry, Logger: log}
	var err error
	if c.Since, err = parseWhen(*since, now); err != nil {
		return fmt.Errorf("replay-dlq: --since: %w", err)
	}
	if c.Until, err = parseWhen(*until, now); err != nil {
		return fmt.Errorf("replay-dlq: --until: %w", err)
	}
	if c.ConsumerGroup == "any" {
		c.ConsumerGroup = ""
	}
	res, err := Replay(ctx, c)
	fmt.Fprintf(out, "replay-dlq %s.dlq -> %s: scanned %d, matched %d, replayed %d%s\n",
		*topic, *topic, res.Scanned, res.Matched, res.Replayed, map[bool]string{true: " (dry run)"}[*dry])
	return err
}

// parseWhen reads an RFC 3339 time or a duration before now; "" is zero.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration", s)
	}
	return t, nil
}
