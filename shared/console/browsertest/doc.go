// Package browsertest drives the operator console in Debian's headless
// Chromium (github.com/chromedp/chromedp) against the local stack with the
// vendor sandboxes: every test signs in, clicks through a flow as a person
// would and asserts on what the page shows; a failing test saves a
// screenshot (its path is in the log). `make test` installs chromium when
// it is missing. It holds tests only.
package browsertest
