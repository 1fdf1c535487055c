<?xml version="1.0" encoding="UTF-8"?>
<tileset version="1.10" tiledversion="1.11.0" name="town" tilewidth="32" tileheight="32" tilecount="10" columns="5">
 <image source="../assets/tilesets/town.png" width="160" height="64"/>
 <tile id="3"><properties><property name="collides" type="bool" value="true"/></properties></tile>
 <tile id="4"><properties><property name="collides" type="bool" value="true"/></properties></tile>
 <tile id="6"><properties><property name="collides" type="bool" value="true"/></properties></tile>
 <tile id="7"><properties><property name="collides" type="bool" value="true"/></properties></tile>
</tileset>
