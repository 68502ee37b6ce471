package engine

import "testing"

func TestResticMessage(t *testing.T) {
	exit := `{"message_type":"exit_error","code":1,"message":"There were 3 errors"}`
	cases := map[string]struct {
		stderr string
		items  []string
		want   string
	}{
		"an exit message that explains": {stderr: `{"message_type":"exit_error","code":1,"message":"repository does not exist"}`,
			want: "repository does not exist"},
		"a count of errors gets the errors": {stderr: exit, items: []string{"/a: ciphertext verification failed", "/b: ciphertext verification failed", "/c: x", "/d: y"},
			want: "There were 3 errors: /a: ciphertext verification failed; /b: ciphertext verification failed; /c: x"},
		"or the other lines of stderr": {stderr: "Load(<data/1234>) returned error\n" + exit,
			want: "There were 3 errors: Load(<data/1234>) returned error"},
		"no exit message": {stderr: "one\ntwo\nthree\nfour", want: "two; three; four"},
	}
	for name, tc := range cases {
		if got := resticMessage(tc.stderr, tc.items); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}
