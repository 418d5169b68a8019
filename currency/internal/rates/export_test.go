package rates

// SetAfterFillRead installs a hook that runs between a fill's database
// read and its cache write, so tests can land updates in that window.
func SetAfterFillRead(s *Service, f func(code string)) { s.afterFillRead = f }
