package cronjob

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed cron schedule: Next is the first activation strictly
// after t, or the zero time when there is none within five years.
type Schedule interface {
	Next(t time.Time) time.Time
}

// Parse reads a standard cron schedule as the CronJob controller does
// (robfig/cron's standard parser): five fields (minute, hour, day of month,
// month, day of week; numbers, names, *, ?, ranges, lists and steps), or a
// descriptor (@yearly, @annually, @monthly, @weekly, @daily, @midnight,
// @hourly, @every <duration>). Activations are computed in loc.
func Parse(spec string, loc *time.Location) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("empty spec string")
	}
	if strings.HasPrefix(spec, "@") {
		return parseDescriptor(spec, loc)
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), fields)
	}
	s := &cronSchedule{second: 1, loc: loc}
	for i, dst := range []*uint64{&s.minute, &s.hour, &s.dom, &s.month, &s.dow} {
		bits, err := parseField(fields[i], bounds[i])
		if err != nil {
			return nil, err
		}
		*dst = bits
	}
	return s, nil
}

type bound struct {
	min, max int
	names    map[string]int
}

var bounds = []bound{
	{0, 59, nil},
	{0, 23, nil},
	{1, 31, nil},
	{1, 12, map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{0, 6, map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// starBit marks a field given as * or ?: robfig/cron then ANDs day of month
// and day of week instead of ORing them.
const starBit = 1 << 63

func parseDescriptor(spec string, loc *time.Location) (Schedule, error) {
	all := func(b bound) uint64 { return bitRange(b.min, b.max, 1) | starBit }
	mk := func(dom, month, dow uint64) Schedule {
		return &cronSchedule{second: 1, minute: 1, hour: 1, dom: dom, month: month, dow: dow, loc: loc}
	}
	switch spec {
	case "@yearly", "@annually":
		return mk(1<<1, 1<<1, all(bounds[4])), nil
	case "@monthly":
		return mk(1<<1, all(bounds[3]), all(bounds[4])), nil
	case "@weekly":
		return mk(all(bounds[2]), all(bounds[3]), 1<<0), nil
	case "@daily", "@midnight":
		return mk(all(bounds[2]), all(bounds[3]), all(bounds[4])), nil
	case "@hourly":
		return &cronSchedule{second: 1, minute: 1, hour: all(bounds[1]), dom: all(bounds[2]), month: all(bounds[3]), dow: all(bounds[4]), loc: loc}, nil
	}
	const every = "@every "
	if strings.HasPrefix(spec, every) {
		d, err := time.ParseDuration(spec[len(every):])
		if err != nil {
			return nil, fmt.Errorf("failed to parse duration %s: %s", spec, err)
		}
		if d < time.Second {
			d = time.Second
		}
		return everySchedule(d - time.Duration(d.Nanoseconds())%time.Second), nil
	}
	return nil, fmt.Errorf("unrecognized descriptor: %s", spec)
}

func parseField(field string, b bound) (uint64, error) {
	var bits uint64
	for _, expr := range strings.Split(field, ",") {
		x, err := parseRange(expr, b)
		if err != nil {
			return 0, err
		}
		bits |= x
	}
	return bits, nil
}

func parseRange(expr string, b bound) (uint64, error) {
	rangeAndStep := strings.Split(expr, "/")
	lowAndHigh := strings.Split(rangeAndStep[0], "-")
	single := len(lowAndHigh) == 1
	var start, end int
	var extra uint64
	if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
		start, end, extra = b.min, b.max, starBit
	} else {
		var err error
		if start, err = value(lowAndHigh[0], b); err != nil {
			return 0, err
		}
		switch len(lowAndHigh) {
		case 1:
			end = start
		case 2:
			if end, err = value(lowAndHigh[1], b); err != nil {
				return 0, err
			}
		default:
			return 0, fmt.Errorf("too many hyphens: %s", expr)
		}
	}
	step := 1
	switch len(rangeAndStep) {
	case 1:
	case 2:
		var err error
		if step, err = strconv.Atoi(rangeAndStep[1]); err != nil {
			return 0, fmt.Errorf("failed to parse int from %s: %s", rangeAndStep[1], err)
		}
		if step <= 0 {
			return 0, fmt.Errorf("step of range should be a positive number: %s", expr)
		}
		if single {
			end = b.max
		}
		if step > 1 {
			extra = 0
		}
	default:
		return 0, fmt.Errorf("too many slashes: %s", expr)
	}
	switch {
	case start < b.min:
		return 0, fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, b.min, expr)
	case end > b.max:
		return 0, fmt.Errorf("end of range (%d) above maximum (%d): %s", end, b.max, expr)
	case start > end:
		return 0, fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	}
	return bitRange(start, end, step) | extra, nil
}

func value(s string, b bound) (int, error) {
	if v, ok := b.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %s", s, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, s)
	}
	return n, nil
}

func bitRange(min, max, step int) uint64 {
	var bits uint64
	for i := min; i <= max; i += step {
		bits |= 1 << uint(i)
	}
	return bits
}

// everySchedule is "@every d": d after the previous activation, on whole seconds.
type everySchedule time.Duration

func (e everySchedule) Next(t time.Time) time.Time {
	return t.Add(time.Duration(e) - time.Duration(t.Nanosecond()))
}

// cronSchedule is a five-field schedule as bit sets, robfig/cron's SpecSchedule.
type cronSchedule struct {
	second, minute, hour, dom, month, dow uint64
	loc                                   *time.Location
}

// Next follows robfig/cron's algorithm: advance the largest field that does
// not match, resetting the smaller ones, and wrap. Wall-clock times a DST
// change skips are never activations (that day has none), and a time in
// the hour it repeats activates twice, exactly as upstream.
func (s *cronSchedule) Next(t time.Time) time.Time {
	orig := t.Location()
	loc := s.loc
	t = t.In(loc)
	t = t.Add(time.Second - time.Duration(t.Nanosecond()))
	added := false
	yearLimit := t.Year() + 5
wrap:
	if t.Year() > yearLimit {
		return time.Time{}
	}
	for 1<<uint(t.Month())&s.month == 0 {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
		}
		t = t.AddDate(0, 1, 0)
		if t.Month() == time.January {
			goto wrap
		}
	}
	for !s.dayMatches(t) {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		}
		t = t.AddDate(0, 0, 1)
		// Midnight may not exist (DST): get back to the day's start.
		if t.Hour() != 0 {
			if t.Hour() > 12 {
				t = t.Add(time.Duration(24-t.Hour()) * time.Hour)
			} else {
				t = t.Add(time.Duration(-t.Hour()) * time.Hour)
			}
		}
		if t.Day() == 1 {
			goto wrap
		}
	}
	for 1<<uint(t.Hour())&s.hour == 0 {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
		}
		t = t.Add(time.Hour)
		if t.Hour() == 0 {
			goto wrap
		}
	}
	for 1<<uint(t.Minute())&s.minute == 0 {
		if !added {
			added = true
			t = t.Truncate(time.Minute)
		}
		t = t.Add(time.Minute)
		if t.Minute() == 0 {
			goto wrap
		}
	}
	for 1<<uint(t.Second())&s.second == 0 {
		if !added {
			added = true
			t = t.Truncate(time.Second)
		}
		t = t.Add(time.Second)
		if t.Second() == 0 {
			goto wrap
		}
	}
	return t.In(orig)
}

func (s *cronSchedule) dayMatches(t time.Time) bool {
	domMatch := 1<<uint(t.Day())&s.dom > 0
	dowMatch := 1<<uint(t.Weekday())&s.dow > 0
	if s.dom&starBit > 0 || s.dow&starBit > 0 {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}
