module github.com/quirehq/quire

go 1.26
