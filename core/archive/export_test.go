package archive

// SetCrash makes s stop (return f's error) after the steps f refuses: a
// test's stand-in for a process killed there.
func (s *Service) SetCrash(f func(step string) error) { s.crash = f }
