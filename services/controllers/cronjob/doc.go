// Package cronjob is the CronJob controller: it creates a CronJob's Jobs on
// its schedule as kube-controller-manager's cronjob controller (v2) does.
//
// It owns, for each CronJob: parsing the schedule (a small robfig/cron
// compatible parser, five fields and @descriptors, in spec.timeZone),
// creating the Job for the most recent missed start (name
// <cronjob>-<minutes since the epoch>, annotation
// batch.kubernetes.io/cronjob-scheduled-timestamp), startingDeadlineSeconds,
// concurrencyPolicy Allow/Forbid/Replace, suspend, deleting finished Jobs
// beyond successfulJobsHistoryLimit/failedJobsHistoryLimit, and
// status.active, lastScheduleTime and lastSuccessfulTime.
//
// Reconcile is a pure function of (view, key, now); Loop wires it to the
// log and wakes it when a start falls due. It must not touch Jobs it does
// not control, nor the Jobs' pods except to stop those of a Job it deletes.
//
// Decisions that differ from upstream:
//   - Without spec.timeZone the schedule is read in UTC, not in the
//     controller's local zone, so that every replica decides alike.
//   - status.active is derived from the Jobs the CronJob controls (unfinished
//     ones), so a Job created just before a crash is never forgotten; a Job
//     with the scheduled name that already exists counts as that start.
//   - A deleted Job's pods are deleted with it (upstream leaves that to the
//     garbage collector through background propagation).
//   - An invalid time zone or schedule is logged and the CronJob is skipped
//     (upstream records a warning Event).
package cronjob
