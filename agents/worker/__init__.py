"""The worker: the Faust app, its bulk intake of the input topics, the state store and
its changelog, ticks, and the web server that passes report requests to the reader."""
