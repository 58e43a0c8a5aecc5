// Package ui is sprint's web console: static HTML, CSS and JavaScript
// modules embedded in the binary and served under /ui/ by every node.
//
// The console is a client of the public REST API only (lists, watches as
// Server-Sent Events read with fetch, writes with dryRun), so it works
// through any node and behind the same bearer-token authentication as
// sprintctl. The assets hold nothing secret and are served without a token;
// every API call the page makes carries the token the user entered, kept in
// sessionStorage. There is no build step: the files under static/ are what
// the browser runs. See DESIGN.md for the layout and the reasons.
package ui
