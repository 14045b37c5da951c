//go:build unix

package server

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// launchLocked runs the launch command of every session that has events
// waiting, no attached process and launch events enabled, at most once
// per its current delay; it returns when a launch is next due.
func (s *Server) launchLocked(now time.Time) time.Time {
	next := now.Add(far)
	for id, ss := range s.sessions {
		need := ss.pending && ss.attached == nil
		if !need {
			// Apple's rule: the delay falls back once it has passed
			// without a relaunch.
			if !ss.nextLaunch.IsZero() && !now.Before(ss.nextLaunch) {
				ss.launchDelay = s.cfg.LaunchDelay
				ss.nextLaunch = time.Time{}
			}
			continue
		}
		if now.Before(ss.nextLaunch) {
			if ss.nextLaunch.Before(next) {
				next = ss.nextLaunch
			}
			continue
		}
		sess, err := s.st.Session(context.Background(), id)
		if err != nil || !sess.SendsLaunchEvents || len(sess.LaunchCommand) == 0 {
			continue
		}
		if err := s.cfg.Launch(id, sess.LaunchCommand); err != nil {
			s.log.Warn("launch command failed", "session", id, "command", sess.LaunchCommand[0], "err", err)
		} else {
			s.log.Info("launched", "session", id, "command", sess.LaunchCommand[0], "pending", sess.PendingEvents)
		}
		if ss.launchDelay <= 0 {
			ss.launchDelay = s.cfg.LaunchDelay
		}
		ss.nextLaunch = now.Add(ss.launchDelay)
		ss.launchDelay = min(2*ss.launchDelay, s.cfg.LaunchDelayMax)
		if ss.nextLaunch.Before(next) {
			next = ss.nextLaunch
		}
	}
	return next
}

// IdentifierEnv is the environment variable that carries the session
// identifier to a launched command.
const IdentifierEnv = "URLSESSION_IDENTIFIER"

// launchDetached starts argv in a session of its own with its standard
// streams on /dev/null; a goroutine waits for it, ending when it exits.
func launchDetached(session string, argv []string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), IdentifierEnv+"="+session)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

// mkdirPrivate makes dir (and missing parents), mode 0700.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}
