module github.com/raftlog/raftlog

go 1.26.0

require golang.org/x/sys v0.49.0

require (
	github.com/klauspost/crc32 v1.3.0 // indirect
	github.com/panjf2000/ants/v2 v2.12.1 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sync v0.11.0 // indirect
)
