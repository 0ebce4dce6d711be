from ar_radar.cli import main

main()
