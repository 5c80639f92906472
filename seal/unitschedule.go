package seal

// A unit's retention schedule (保管期限表): each unit keeps its records under
// its own schedule, set by its administrator and replaced when the rules
// change. Versions are appended (units/<u>/schedule/<n>.yaml, put-if-absent);
// the newest is in force. A unit without one uses the deployment's.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"eseal/archive"
	"eseal/archive/audit"
)

// UnitScheduleSet is the audit action of a unit's new retention schedule.
const UnitScheduleSet audit.Action = "unit.schedule-set"

// maxScheduleBytes bounds a stored schedule.
const maxScheduleBytes = 1 << 20

// scheduleTTL is how long a replica keeps reading the schedule it last
// found: a new version is in force on every replica within it.
const scheduleTTL = 30 * time.Second

type cachedSchedule struct {
	at       time.Time
	schedule *archive.Schedule // nil: the unit has none
	version  int
}

type unitSchedules struct {
	mu sync.Mutex
	m  map[string]cachedSchedule
}

func unitSchedulePrefix(unitID string) string { return archive.UnitsPrefix + unitID + "/schedule/" }

// SetUnitSchedule parses a retention schedule (YAML, as for the deployment)
// and puts it in force for the unit; it returns the version number.
func (r *Registry) SetUnitSchedule(ctx context.Context, unitID string, yamlBytes []byte, by string) (int, error) {
	u, err := r.Unit(ctx, unitID)
	if err != nil {
		return 0, err
	}
	if len(yamlBytes) == 0 || len(yamlBytes) > maxScheduleBytes {
		return 0, &InputError{"schedule", fmt.Sprintf("a YAML retention schedule of 1 byte to %d KiB", maxScheduleBytes>>10)}
	}
	if _, err := archive.ParseSchedule(yamlBytes); err != nil {
		return 0, &InputError{"schedule", err.Error()}
	}
	for attempt := 0; attempt < 8; attempt++ {
		n := 0
		if err := r.store.List(ctx, unitSchedulePrefix(u.ID), func(archive.ObjectInfo) error { n++; return nil }); err != nil {
			return 0, err
		}
		key := fmt.Sprintf("%s%08d.yaml", unitSchedulePrefix(u.ID), n+1)
		err := putObject(ctx, r.store, key, yamlBytes)
		if err == nil {
			err = r.LogChange(ctx, AuditEvent{Action: UnitScheduleSet, Subject: u.ID, Actor: by, Details: map[string]string{"version": fmt.Sprint(n + 1), "sm3": sm3Hex(yamlBytes)}}, key)
			r.schedules.mu.Lock()
			delete(r.schedules.m, u.ID)
			r.schedules.mu.Unlock()
			if err != nil {
				return 0, err
			}
			return n + 1, nil
		}
		if !errors.Is(err, archive.ErrExists) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("unit %s: the schedule changed under us eight times; try again", u.ID)
}

// UnitSchedule returns the schedule in force for the unit and its version;
// nil and 0 when the unit has none.
func (r *Registry) UnitSchedule(ctx context.Context, u *Unit) (*archive.Schedule, int, error) {
	r.schedules.mu.Lock()
	c, ok := r.schedules.m[u.ID]
	r.schedules.mu.Unlock()
	if ok && time.Since(c.at) < scheduleTTL {
		return c.schedule, c.version, nil
	}
	var last string
	n := 0
	err := r.store.List(ctx, unitSchedulePrefix(u.ID), func(o archive.ObjectInfo) error {
		if strings.HasSuffix(o.Key, ".yaml") {
			last = o.Key
			n++
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	c = cachedSchedule{at: time.Now(), version: n}
	if last != "" {
		b, err := getObject(ctx, r.store, last, maxScheduleBytes)
		if err != nil {
			return nil, 0, err
		}
		if c.schedule, err = archive.ParseSchedule(b); err != nil {
			return nil, 0, fmt.Errorf("unit %s: %s: %w", u.ID, last, err)
		}
	}
	r.schedules.mu.Lock()
	if r.schedules.m == nil {
		r.schedules.m = map[string]cachedSchedule{}
	}
	r.schedules.m[u.ID] = c
	r.schedules.mu.Unlock()
	return c.schedule, c.version, nil
}
