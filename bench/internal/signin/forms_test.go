package signin

import (
	"reflect"
	"testing"
)

func TestParseForms(t *testing.T) {
	cases := []struct {
		name  string
		page  string
		forms []Form
		links []Link
	}{
		{
			name: "consent with csrf and two buttons",
			page: `<form method="post" action="/consent"><input type="hidden" name="csrf" value="a&amp;b">
				<button name="d" value="deny">Deny</button><button type=submit name="d" value="ok">Approve <em>now</em></button></form>`,
			forms: []Form{{Action: "/consent", Method: "POST", Fields: []Field{{"csrf", "a&b", "hidden"}},
				Buttons: []Button{{"d", "deny", "Deny"}, {"d", "ok", "Approve now"}}}},
		},
		{
			name: "bare and single-quoted attributes, self-closing input, default GET",
			page: `<FORM action=/s><INPUT type=hidden name=user value='ada@example.com'/><input type=submit value="Go"></FORM>`,
			forms: []Form{{Action: "/s", Method: "GET", Fields: []Field{{"user", "ada@example.com", "hidden"}},
				Buttons: []Button{{"", "Go", "Go"}}}},
		},
		{
			name: "comments and scripts hide forms; unchecked boxes and plain buttons are not sent",
			page: `<!-- <form action="/x"></form> --><script>var s = "<form action='/y'>";</script>
				<form method=post><input type=checkbox name=a><input type=checkbox name=b checked><input type=checkbox name=c value=v checked>
				<input name=t value=x disabled><button type=button>Show</button><button>Send</button></form>`,
			forms: []Form{{Action: "", Method: "POST", Fields: []Field{{"b", "on", "checkbox"}, {"c", "v", "checkbox"}},
				Buttons: []Button{{"", "", "Send"}}}},
		},
		{
			name:  "links with text",
			page:  `<p>1 < 2</p><a href="/pick?u=ada">Continue as <b>ada@example.com</b></a><a name=x>no href</a>`,
			links: []Link{{"/pick?u=ada", "Continue as ada@example.com"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forms, links := ParseForms(c.page)
			if !reflect.DeepEqual(forms, c.forms) {
				t.Errorf("forms\n got %+v\nwant %+v", forms, c.forms)
			}
			if !reflect.DeepEqual(links, c.links) {
				t.Errorf("links\n got %+v\nwant %+v", links, c.links)
			}
		})
	}
}
