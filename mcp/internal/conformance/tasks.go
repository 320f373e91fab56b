package main

// The tools of the tasks-* scenarios (io.modelcontextprotocol/tasks,
// SEP-2663): greet runs synchronously; the others may, or must, run as
// tasks the suite polls with tasks/get.

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"remote-mcp-authkit/mcp"
)

// handlerDecides names the tools listed with task support whose handler
// itself turns the call into a task (mcp.ContinueAsTask) after gathering
// input: the server runs them synchronously until then.
var handlerDecides = map[string]bool{"test_tool_with_task": true}

// TaskSupport makes fixtureToolSet an mcp.TaskSupporter.
func (f *fixtureToolSet) TaskSupport(ctx context.Context, name string) string {
	return f.table.TaskSupport(ctx, name)
}

// TaskSupport says what each tool's execution.taskSupport says.
func (t toolTable) TaskSupport(_ context.Context, name string) string {
	if handlerDecides[name] {
		return mcp.TaskForbidden
	}
	for _, x := range t {
		if x.Name == name && x.Execution != nil {
			return x.Execution.TaskSupport
		}
	}
	return mcp.TaskForbidden
}

func taskSupport(s string) *mcp.ToolExecution { return &mcp.ToolExecution{TaskSupport: s} }

const confirmSchema = `{"type":"object","properties":{"confirm":{"type":"boolean"}},"required":["confirm"]}`

func taskTools() toolTable {
	return toolTable{
		{mcp.Tool{Name: "greet", Description: "Greets synchronously",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}}}`)},
			func(_ context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
				var in struct{ Name string }
				_ = json.Unmarshal(args, &in)
				return text("Hello, " + in.Name + "!"), nil
			}},
		{mcp.Tool{Name: "slow_compute", Description: "Sleeps for seconds, then answers; may run as a task",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"seconds":{"type":"number"},"label":{"type":"string"}}}`),
			Execution:   taskSupport(mcp.TaskOptional)},
			func(ctx context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
				var in struct {
					Seconds float64
					Label   string
				}
				_ = json.Unmarshal(args, &in)
				if err := sleep(ctx, time.Duration(in.Seconds*float64(time.Second))); err != nil {
					return nil, err
				}
				return text(fmt.Sprintf("Computed %s after %gs", in.Label, in.Seconds)), nil
			}},
		{mcp.Tool{Name: "failing_job", Description: "Always fails as a tool error after a second; runs only as a task",
			InputSchema: noArguments, Execution: taskSupport(mcp.TaskRequired)},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				if err := sleep(ctx, time.Second); err != nil {
					return nil, err
				}
				return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("the job failed")}, IsError: true}, nil
			}},
		{mcp.Tool{Name: "protocol_error_job", Description: "Panics: a protocol error, so its task fails",
			InputSchema: noArguments, Execution: taskSupport(mcp.TaskOptional)},
			func(context.Context, json.RawMessage) (*mcp.CallToolResult, error) {
				panic("protocol_error_job always panics")
			}},
		{mcp.Tool{Name: "confirm_delete", Description: "Asks for confirmation (a task's input request), then deletes",
			InputSchema: noArguments, Execution: taskSupport(mcp.TaskOptional)},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				res, err := mcp.Elicit(ctx, &mcp.ElicitParams{Message: "Delete the file?", RequestedSchema: json.RawMessage(confirmSchema)})
				if err != nil {
					return nil, err
				}
				return text("confirm_delete: " + res.Action), nil
			}},
		// tasks-mrtr-composition: the name is gathered with an
		// InputRequiredResult first, then the call becomes a task.
		{mcp.Tool{Name: "test_tool_with_task", Description: "Asks for a name (input_required), then continues as a task",
			InputSchema: noArguments, Execution: taskSupport(mcp.TaskRequired)},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				r, ok := responses(ctx, "user_name")
				if !ok {
					return nil, ask(nil, "user_name", askName)
				}
				name := field(r[0], "name")
				return nil, &mcp.ContinueAsTask{Run: func(ctx context.Context) (*mcp.CallToolResult, error) {
					if err := sleep(ctx, 200*time.Millisecond); err != nil {
						return nil, err
					}
					return text("Hello from the task, " + name + "!"), nil
				}}
			}},
		{mcp.Tool{Name: "multi_input", Description: "Asks two questions at once (two input requests), then answers",
			InputSchema: noArguments, Execution: taskSupport(mcp.TaskOptional)},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				var wg sync.WaitGroup
				answers := make([]string, 2)
				errs := make([]error, 2)
				for i := range 2 {
					wg.Go(func() {
						res, err := mcp.Elicit(ctx, &mcp.ElicitParams{Message: fmt.Sprintf("Question %d?", i+1), RequestedSchema: json.RawMessage(confirmSchema)})
						if err == nil {
							answers[i] = res.Action
						}
						errs[i] = err
					})
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						return nil, err
					}
				}
				return text("multi_input: " + answers[0] + ", " + answers[1]), nil
			}},
	}
}
