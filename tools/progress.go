package tools

import "remote-mcp-authkit/mcp"

// notifyProgress sends notifications/progress for the request in ctx (MCP
// basic/utilities/progress); it does nothing when the request carried no
// progressToken. It is a variable only so that a unit test can record the
// image tool's schedule; the transport tests go through the real one.
var notifyProgress = mcp.NotifyProgress
