from cotwatch.entry import run

run()
